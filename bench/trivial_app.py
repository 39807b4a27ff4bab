"""The yardstick for bench/bench_rerun.py and bench/bench_load.py: a page with a selectbox and one
line of text, the cheapest rerun Streamlit can do. The app's times are reported beside these."""

import streamlit as st

OPTIONS = [f"Option {i}" for i in range(20)]

choice = st.selectbox("Kernel", OPTIONS, key="trivial_choice")
st.write(f"You chose {choice}.")
