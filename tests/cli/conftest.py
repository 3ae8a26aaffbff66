"""The scale fixtures, for the completion tests of scale codes."""

from tests.scales.conftest import _isolated, extra_dir, valid_toml, write_scale  # noqa: F401 -- fixtures, used by name
