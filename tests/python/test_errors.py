"""Bad input is ValueError with the library's (the command line's) message; internal failures
RuntimeError; a wrong keyword TypeError; nothing crashes."""

import pytest

import varlearn


def test_rank_out_of_range_is_value_error_with_the_cli_message(cli):
    with pytest.raises(ValueError, match=r"--k must satisfy 1 <= k <= n = 20 \(got 0\)"):
        varlearn.theory.optimal(n=20, k=0)


def test_negative_sigma():
    with pytest.raises(ValueError, match="sigma = -1"):
        varlearn.theory.optimal(sigma=-1)


def test_option_that_does_not_apply():
    with pytest.raises(ValueError, match="--depth"):
        varlearn.theory.optimal(method="bilevel", depth=3)


def test_strict_numbers():
    with pytest.raises(ValueError, match="--n"):
        varlearn.theory.optimal(n=2.5)
    with pytest.raises(ValueError, match="--sigma"):
        varlearn.theory.optimal(sigma=float("nan"))


def test_unknown_choice_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="--data"):
        varlearn.theory.optimal(data="gaussian")
    with pytest.raises(ValueError):
        varlearn.eval(model=str(tmp_path / "missing.json"))


def test_unknown_keyword_is_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'nn'"):
        varlearn.theory.optimal(nn=3)


def test_switch_needs_a_bool():
    with pytest.raises(ValueError, match="switch"):
        varlearn.theory.map(x="k=1:5:2", value="bilevel", n=5, no_figures="yes")


def test_library_objects_raise_value_error():
    with pytest.raises(ValueError, match="rank"):
        varlearn.theory.best_bilevel(varlearn.DataModel.iid(5, 1, 1), 0.5, 9)
    with pytest.raises(ValueError):
        varlearn.QuadraticModel.random(0)
    with pytest.raises(ValueError, match="operator"):
        varlearn.ops.operator("blur:3", 8)


def test_error_kinds_map_to_python_exceptions():
    with pytest.raises(ValueError, match="debug: bad input"):
        varlearn._varlearn._debug_throw("bad_input")
    with pytest.raises(RuntimeError, match="internal: debug: internal failure"):
        varlearn._varlearn._debug_throw("internal")
