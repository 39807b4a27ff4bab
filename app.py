"""CNN Explorer — entry point for `streamlit run app.py`: page set-up and navigation only."""

import streamlit as st

st.set_page_config(page_title="CNN Explorer", page_icon=":material/grid_on:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Start here", icon=":material/home:", default=True),
    st.Page("pages/convolution.py", title="Convolution playground", icon=":material/grid_on:"),
    st.Page("pages/network.py", title="The network", icon=":material/account_tree:"),
    st.Page("pages/feature_maps.py", title="Feature maps", icon=":material/layers:"),
    st.Page("pages/inside.py", title="Inside the network", icon=":material/calculate:"),
]
st.navigation(pages).run()
