"""Marking the library's visible texts for translation, without the library knowing any language.

`aigc_core` never imports Streamlit or the app's i18n layer, yet some of its texts (the
diagnosis cards, the "break it on purpose" presets) are shown in the browser. Wrapping them in
`N_()` changes nothing at run time; it only lets `pybabel extract` (see babel.cfg) find them, so the
UI can look up their translation with `_()` where it shows them. Errors a page shows carry their
message the same way (`MessageError`): an English template and the values that fill it.
"""


def N_(message: str) -> str:
    """`message` unchanged: a marker for `pybabel extract`, translated by the UI when shown."""
    return message


class MessageError(ValueError):
    """A one-line ValueError that a UI can word in its own language.

    `str()` is the English line the CLI prints. `template` is that line's English text with named
    placeholders, marked with `N_()` where it is raised so that `pybabel extract` finds it, and
    `values` fills them; the UI translates the template and formats it with the same values.
    `detail` is technical text from another library (h5py, Keras): the CLI line ends with it, a
    page leaves it out, since it has no translation and tells a visitor nothing they can act on.
    """

    def __init__(self, template: str, detail: str = "", **values):
        self.template, self.detail, self.values = template, detail, values
        line = template.format(**values)
        super().__init__(f"{line}: {detail}" if detail else line)


class Message(str):
    """A sentence the library hands to a UI (a progress line): the English text itself, plus the
    `template` and `values` it was made from, so a UI can word it in its own language."""

    def __new__(cls, template: str, **values):
        text = super().__new__(cls, template.format(**values))
        text.template, text.values = template, values
        return text
