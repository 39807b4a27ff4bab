"""The Streamlit glue, split by concern. Only this package imports Streamlit; everything it
shows is computed in the rest of ``explorer``.

- ``widgets``: what every page shares (the error guard, navigation, headers, literal text)
- ``network``: the network pages' models, sidebar, captures and pictures, cached by content
- ``playground``: the convolution playground's cached steps
- ``player``: the window-by-window player component
"""
