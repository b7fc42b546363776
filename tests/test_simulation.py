"""The restock simulation: hand-worked single restocks, and the default scenario's verdict."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from restock_waitlist.simulation import Restock, Scenario, run, simulate

SCENARIO = Scenario()


def simulate_command(*args):
    out = StringIO()
    call_command("restock_waitlist_simulate", *args, stdout=out)
    return out.getvalue()


class TestOneRestock:
    def test_two_units_and_three_told_sell_out_at_the_second_buyer(self):
        # Waiters in line: buys after 1 h, never, after 2 h, after 30 h.
        restock = Restock(units=2, rate=0.5, waiters=(1.0, None, 2.0, 30.0), history=(0, 0))
        outcome = run(restock, lambda units: 3, SCENARIO)
        assert (outcome.sold, outcome.hours_to_sell_out) == (2, 2.0)
        assert (outcome.disappointed, outcome.messages) == (0, 3)

    def test_telling_one_more_disappoints_them(self):
        restock = Restock(units=2, rate=0.5, waiters=(1.0, None, 2.0, 30.0), history=(0, 0))
        outcome = run(restock, lambda units: 4, SCENARIO)
        assert (outcome.sold, outcome.disappointed, outcome.messages) == (2, 1, 4)

    def test_next_waves_every_interval_for_the_units_left(self):
        # Wave at 0 h: waiters 1-2, one buys at 5 h. Wave at 24 h for the 1 unit left:
        # waiters 3-4, nobody buys. Wave at 48 h: waiter 5 buys 3 h later, at 51 h.
        restock = Restock(units=2, rate=0.4, waiters=(None, 5.0, None, None, 3.0), history=(0, 0))
        sizes = []

        def size(units):
            sizes.append(units)
            return 2

        outcome = run(restock, size, SCENARIO)
        assert sizes == [2, 1, 1]
        assert (outcome.sold, outcome.hours_to_sell_out, outcome.messages) == (2, 51.0, 5)

    def test_not_enough_buyers_never_sells_out(self):
        restock = Restock(units=3, rate=0.2, waiters=(None, 4.0, None), history=(0, 0))
        outcome = run(restock, lambda units: 1, SCENARIO)
        assert (outcome.sold, outcome.hours_to_sell_out, outcome.messages) == (1, None, 3)


class TestDefaultScenario:
    def test_adaptive_sells_out_no_slower_and_disappoints_fewer(self):
        fixed, adaptive = simulate()
        assert (fixed.policy, adaptive.policy) == ("fixed", "adaptive")
        assert (fixed.sold, fixed.sold_out) == (adaptive.sold, adaptive.sold_out)
        assert adaptive.mean_hours <= fixed.mean_hours
        assert adaptive.disappointed < fixed.disappointed
        assert adaptive.messages <= fixed.messages

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_and_on_other_seeds(self, seed):
        fixed, adaptive = simulate(Scenario(seed=seed))
        assert adaptive.mean_hours <= fixed.mean_hours
        assert adaptive.disappointed < fixed.disappointed

    def test_the_same_seed_gives_the_same_table(self):
        assert simulate() == simulate()
        assert simulate(Scenario(seed=8)) != simulate()


class TestCommand:
    def test_prints_a_row_per_policy(self):
        out = simulate_command("--restocks", "20", "--seed", "3")
        header, _rule, fixed, adaptive = out.split("\n\n")[1].splitlines()
        assert header.split()[:3] == ["policy", "sold", "out"]
        assert fixed.startswith("fixed ×3 ") and adaptive.startswith("adaptive ")
        assert "20 restocks of 5–30 units" in out and "seed 3" in out
        assert out == simulate_command("--restocks", "20", "--seed", "3")

    def test_the_fixed_multiplier_is_an_option(self):
        assert "fixed ×2 " in simulate_command("--restocks", "5", "--fixed", "2")

    @pytest.mark.parametrize(
        "args", [("--restocks", "0"), ("--conversion", "0.6", "0.1"), ("--units", "0", "3")]
    )
    def test_nonsense_is_refused(self, args):
        with pytest.raises(CommandError):
            simulate_command(*args)
