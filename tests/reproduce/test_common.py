"""reproduce.common: which protocol a reproduction runs."""

from dataclasses import dataclass

from fathom.reproduce.common import choose_protocol


@dataclass(frozen=True)
class Protocol:
    datasets: tuple[str, ...]
    seeds: int


FULL, QUICK = Protocol(("cora", "citeseer"), 5), Protocol(("csbm",), 1)


def test_the_protocol_is_the_explicit_one_else_the_preset_narrowed_to_the_datasets_asked():
    assert choose_protocol(FULL, QUICK, quick=False, protocol=None, datasets=None) is FULL
    assert choose_protocol(FULL, QUICK, quick=True, protocol=None, datasets=None) is QUICK
    explicit = Protocol(("karate",), 2)
    assert choose_protocol(FULL, QUICK, quick=True, protocol=explicit, datasets=None) is explicit
    assert choose_protocol(FULL, QUICK, quick=False, protocol=None, datasets=("citeseer",)) == Protocol(("citeseer",), 5)
