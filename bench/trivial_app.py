"""The yardstick for bench/bench_rerun.py: a page with a selectbox and one line of text, the
cheapest rerun Streamlit can do. The playground's rerun time is reported relative to this."""

import streamlit as st

OPTIONS = [f"Option {i}" for i in range(20)]

choice = st.selectbox("Kernel", OPTIONS, key="trivial_choice")
st.write(f"You chose {choice}.")
