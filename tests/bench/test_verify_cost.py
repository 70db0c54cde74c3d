"""The verify-cost table runs every kernel set on real tree forwards (no timing asserted)."""

from playground.bench import verify_cost


def test_binary_tree_shape():
    tree = verify_cost.binary_tree(7)
    assert tree.parents.tolist() == [-1, 0, 0, 1, 1, 2, 2]
    assert verify_cost.binary_tree(1).is_chain


def test_table_covers_sizes_and_kernels(capsys):
    argv = ["--target", "tiny:target", "--sizes", "1,3", "--context", "20", "--repeats", "1"]
    assert verify_cost.main(argv) == 0
    out = capsys.readouterr().out
    assert "| 0 | 1 |" in out and "| 3 | 4 |" in out
    assert all(k in out for k in verify_cost.KERNELS)
