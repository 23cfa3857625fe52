"""Marking the library's visible texts for translation, without the library knowing any language.

`aigc_core` never imports Streamlit or the app's i18n layer, yet some of its texts (the
diagnosis cards, the "break it on purpose" presets) are shown in the browser. Wrapping them in
`N_()` changes nothing at run time; it only lets `pybabel extract` (see babel.cfg) find them, so the
UI can look up their translation with `_()` where it shows them.
"""


def N_(message: str) -> str:
    """`message` unchanged: a marker for `pybabel extract`, translated by the UI when shown."""
    return message
