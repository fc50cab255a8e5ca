"""The training script's mix of CCP and generated studio photos."""

import pytest
from _scripts import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("train_default_model")


class _Named:
    def __init__(self, tag: str, n: int):
        self.tag, self.n = tag, n

    def __len__(self) -> int:
        return self.n

    def load(self, index: int):
        assert 0 <= index < self.n
        return self.tag, index


@pytest.mark.parametrize("every", [2, 3, 4])
def test_one_generated_photo_in_every_n_and_every_ccp_photo_used(script, every):
    mixed = script.Mixed(_Named("ccp", 10), _Named("studio", 3), every=every)
    drawn = [mixed.load(i) for i in range(len(mixed))]
    studio = [i for i, (tag, _) in enumerate(drawn) if tag == "studio"]
    assert studio == list(range(every - 1, len(mixed), every))
    assert {i for tag, i in drawn if tag == "ccp"} == set(range(10))
    assert {i for tag, i in drawn if tag == "studio"} == set(range(3))


def test_a_mix_without_ccp_photos_is_refused(script):
    with pytest.raises(ValueError, match="every must be 2 or more"):
        script.Mixed(_Named("ccp", 10), _Named("studio", 3), every=1)



@pytest.mark.parametrize(
    "args, message",
    [
        (["--with-people"], "--with-people needs --studio-only"),
        (["--studio", "--studio-only"], "--studio-only trains on studio photos alone"),
    ],
)
def test_product_model_options_are_checked_before_any_work(script, capsys, args, message):
    with pytest.raises(SystemExit):
        script.main(args)
    assert message in capsys.readouterr().err

