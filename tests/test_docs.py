"""README lists exactly what the registries hold (run `python -m playground.docs` to fix)."""

from playground.docs import README, readme_block, registry_table


def test_readme_methods_table_matches_the_registries():
    assert readme_block(README.read_text()) == registry_table(), (
        "README's methods table is stale: run `python -m playground.docs`"
    )
