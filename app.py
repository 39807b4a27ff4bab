"""CNN Explorer — entry point for `streamlit run app.py`: page set-up and navigation only."""

import streamlit as st

st.set_page_config(page_title="CNN Explorer", page_icon="🔍", layout="wide")

pages = [
    st.Page("pages/home.py", title="Start here", icon="🏠", default=True),
    st.Page("pages/convolution.py", title="Convolution playground", icon="🧮"),
    st.Page("pages/network.py", title="The network", icon="🧠"),
    st.Page("pages/feature_maps.py", title="Feature maps", icon="🔬"),
]
st.navigation(pages).run()
