"""``.streamlit/config.toml`` is what the server really runs with: Streamlit ignores an unknown
or misplaced key with no more than a log line, so a typo (``postScriptGc``) would silently bring
back the default it was meant to change."""

from __future__ import annotations

import tomllib

from streamlit import config

from tests.conftest import ROOT

CONFIG = ROOT / ".streamlit" / "config.toml"


def test_every_setting_in_the_config_file_is_one_streamlit_reads_back() -> None:
    settings = tomllib.loads(CONFIG.read_text())
    config.get_config_options(force_reparse=True)  # reads .streamlit/config.toml in the cwd
    try:
        for section, options in settings.items():
            for name, value in options.items():
                key = f"{section}.{name}"
                try:
                    running = config.get_option(key)
                except RuntimeError:  # 'Config key "…" not defined.'
                    raise AssertionError(f"Streamlit has no option {key}") from None
                assert running == value, key
                assert config.get_where_defined(key) == str(CONFIG), key
    finally:
        config.get_config_options(force_reparse=True)


def test_no_browser_is_shown_a_traceback() -> None:
    settings = tomllib.loads(CONFIG.read_text())
    assert settings["client"]["showErrorDetails"] == "none"  # logged on the server instead
