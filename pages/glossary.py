"""The glossary: every word the app uses, explained once (explorer.glossary)."""

import streamlit as st

from explorer.glossary import TERMS
from explorer.ui import widgets

widgets.use_app_navigation()
st.title("Words used here")
st.markdown(
    "Each word as this app uses it, with the numbers of its network (SimpleCNN, 32×32 inputs). "
    "Every page lists its own words in **Words on this page** at its end."
)
for term in TERMS:
    st.subheader(term.word, anchor=term.key)
    st.markdown(term.meaning)
