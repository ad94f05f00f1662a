"""Learning from the analysts' verdicts: the ranker beside the forest (models.ranker,
offline.verdicts, offline.training.train_with_verdicts, models.pipeline.lead_scores)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from casework.lead_status import LeadStatus, LeadStatusRecord, Outcome, StatusChange
from models.feature_names import FEATURE_NAMES
from models.forest import FundraisingForest, ModelArtifactError
from models.pipeline import PipelineConfig, lead_scores
from models.ranker import MIN_VERDICT_ACCOUNTS, RANKER_WEIGHT, VerdictRanker
from models.reasons import NEW_MONEY_PAYS_OLD, VERDICTS
from models.structure import adjust
from offline.replay import OfflineRunner
from offline.training import TrainingSet, train, train_with_verdicts
from offline.verdicts import AccountVerdict, Verdicts, read_verdicts, verdicts_from_records
from tests.worlds import three_bank_scheme

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}
DAYS = 6
AT = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)


def account_rows(kind: str, accounts: int, rng: np.random.Generator) -> np.ndarray:
    """Account-days of one kind. A scheme and a supermarket both take money from many people
    and pay it out the same day (the structure bonus raises both); the scheme's deposits are
    round sums with investment memos, the supermarket's small and paid partly in cash."""
    n = accounts * DAYS
    rows = np.zeros((n, len(FEATURE_NAMES)))
    rows[:, COLUMN["account_age_days"]] = rng.uniform(100, 400, n)
    rows[:, COLUMN["inflow_count_30d"]] = rng.uniform(1, 8, n)
    rows[:, COLUMN["inflow_sum_yuan_30d"]] = rng.uniform(500, 8_000, n)
    rows[:, COLUMN["outflow_count_30d"]] = rng.uniform(1, 8, n)
    rows[:, COLUMN["distinct_payers_30d"]] = rng.uniform(1, 5, n)
    rows[:, COLUMN["distinct_individual_payers_30d"]] = rng.uniform(0, 4, n)
    rows[:, COLUMN["distinct_payees_30d"]] = rng.uniform(1, 5, n)
    rows[:, COLUMN["median_inflow_yuan_30d"]] = rng.uniform(100, 1_000, n)
    if kind == "ordinary":
        return rows
    payers = rng.uniform(60, 120, n)
    rows[:, COLUMN["distinct_individual_payers_30d"]] = payers
    rows[:, COLUMN["distinct_payers_30d"]] = payers
    rows[:, COLUMN["inflow_count_30d"]] = payers * 1.2
    rows[:, COLUMN["outflow_count_30d"]] = rng.uniform(10, 20, n)
    rows[:, COLUMN["distinct_payees_30d"]] = rng.uniform(2, 4, n)
    rows[:, COLUMN["top_payees_outflow_share_30d"]] = 1.0  # three payees or fewer take it all
    rows[:, COLUMN["same_day_outflow_share_30d"]] = rng.uniform(0.7, 0.9, n)
    rows[:, COLUMN["individual_payer_share_30d"]] = rng.uniform(0.9, 1.0, n)
    if kind == "scheme":
        rows[:, COLUMN["inflow_sum_yuan_30d"]] = payers * 50_000
        rows[:, COLUMN["median_inflow_yuan_30d"]] = 50_000
        rows[:, COLUMN["round_amount_share_30d"]] = rng.uniform(0.8, 1.0, n)
        rows[:, COLUMN["fundraising_memo_share_30d"]] = rng.uniform(0.3, 0.6, n)
    else:  # a supermarket
        rows[:, COLUMN["inflow_sum_yuan_30d"]] = payers * 3_000
        rows[:, COLUMN["median_inflow_yuan_30d"]] = 3_000
        rows[:, COLUMN["cash_share_30d"]] = rng.uniform(0.3, 0.5, n)
    return rows


def city(seed: int, ordinary: int = 300, schemes: int = 8, markets: int = 8) -> TrainingSet:
    rng = np.random.default_rng(seed)
    parts, accounts = [], []
    for kind, count in (("ordinary", ordinary), ("scheme", schemes), ("market", markets)):
        parts.append(account_rows(kind, count, rng))
        accounts += [f"{kind}-{seed}-{a:03d}" for a in range(count) for _ in range(DAYS)]
    return TrainingSet(
        np.vstack(parts),
        len(accounts),
        0,
        DAYS * 86_400_000,
        tuple(accounts),
        (),
        tuple(day for _ in range(len(accounts) // DAYS) for day in range(DAYS)),
    )


def judged(data: TrainingSet, confirmed: int, excluded: int) -> Verdicts:
    """Verdicts on the first ``confirmed`` scheme and ``excluded`` supermarket accounts."""
    schemes = sorted({a for a in data.accounts if a.startswith("scheme")})[:confirmed]
    markets = sorted({a for a in data.accounts if a.startswith("market")})[:excluded]
    return Verdicts(
        {a: AccountVerdict(a, a in schemes, f"L-{a}", AT, 0) for a in (*schemes, *markets)}
    )


FOREST = {"n_estimators": 60, "expected_alert_rate": 0.02}


@pytest.fixture(scope="module")
def history() -> TrainingSet:
    return city(1)


@pytest.fixture(scope="module")
def forest_alone(history: TrainingSet) -> FundraisingForest:
    return train(history, FundraisingForest(**FOREST), "forest")


@pytest.fixture(scope="module")
def with_ranker(history: TrainingSet) -> FundraisingForest:
    model, note = train_with_verdicts(
        history, FundraisingForest(**FOREST), judged(history, 6, 6), "ranker"
    )
    assert note.startswith("ranker learnt from 6 confirmed accounts (36 account-days)"), note
    return model


def scores(model: FundraisingForest, rows: np.ndarray) -> np.ndarray:
    return lead_scores(model, rows, ["individual|"] * len(rows))[0]


def test_verdicts_push_an_excluded_kind_below_the_threshold_and_raise_a_confirmed_kind(
    forest_alone: FundraisingForest, with_ranker: FundraisingForest
) -> None:
    # Next month's accounts, none of them judged: new schemes, other supermarkets.
    rng = np.random.default_rng(7)
    schemes, markets = account_rows("scheme", 3, rng), account_rows("market", 3, rng)
    threshold = forest_alone.threshold_
    # The forest alone raises leads on both kinds: both look like money collected from many.
    assert np.all(scores(forest_alone, markets) >= threshold)
    assert np.all(scores(forest_alone, schemes) >= threshold)
    # With the verdicts the supermarkets' kind of activity falls below the threshold (the
    # forest's own, refitted without the confirmed rows), the schemes' rises.
    assert np.all(scores(with_ranker, markets) < with_ranker.threshold_)
    assert np.all(scores(with_ranker, schemes) > scores(forest_alone, schemes))
    _, ranked = lead_scores(with_ranker, schemes, ["individual|"] * len(schemes))
    assert ranked is not None
    probability, shift = ranked
    assert np.all(probability > 0.5) and np.all((shift > 0) & (shift <= RANKER_WEIGHT))


def test_too_few_verdicts_keep_the_forest_alone_bit_for_bit(
    history: TrainingSet, forest_alone: FundraisingForest
) -> None:
    few = judged(history, 0, MIN_VERDICT_ACCOUNTS + 1)  # only exclusions: nothing left out
    model, note = train_with_verdicts(history, FundraisingForest(**FOREST), few, "forest")
    assert note.startswith("no ranker: 0 confirmed accounts") and "at least 5 of each" in note
    assert model.ranker is None
    rows = city(2, ordinary=40).features
    got, verdicts = lead_scores(model, rows, ["individual|"] * len(rows))
    assert verdicts is None
    # The forest path as it was before verdicts existed.
    np.testing.assert_array_equal(got, adjust(forest_alone.anomaly_score(rows), rows, None))
    np.testing.assert_array_equal(got, scores(forest_alone, rows))
    same = {**model._document(), "created_at": forest_alone.created_at_}
    assert same == forest_alone._document()


def test_confirmed_accounts_are_not_taught_to_the_forest_as_normal(
    history: TrainingSet, forest_alone: FundraisingForest
) -> None:
    """Even too few verdicts for a ranker: the confirmed accounts' rows from their lead on
    are left out of the forest's fit, so next month's schemes of their kind stay outliers."""
    few = judged(history, MIN_VERDICT_ACCOUNTS - 1, 6)
    model, note = train_with_verdicts(history, FundraisingForest(**FOREST), few, "forest")
    assert note.startswith("no ranker: 4 confirmed accounts") and model.ranker is None
    confirmed_rows = sum(a in few.accounts and few.accounts[a].confirmed for a in history.accounts)
    assert confirmed_rows == 4 * 6
    assert model.n_samples_fit_ == forest_alone.n_samples_fit_ - confirmed_rows
    schemes = account_rows("scheme", 3, np.random.default_rng(11))
    assert np.all(model.anomaly_score(schemes) > forest_alone.anomaly_score(schemes))


def test_ranked_scores_do_not_depend_on_the_batch(with_ranker: FundraisingForest) -> None:
    rows = city(3, ordinary=20, schemes=2, markets=2).features
    whole = scores(with_ranker, rows)
    one_by_one = [scores(with_ranker, rows[i : i + 1])[0] for i in range(len(rows))]
    assert whole.tolist() == one_by_one
    assert whole.tolist() == scores(with_ranker, rows[::-1])[::-1].tolist()


def test_the_ranker_travels_as_plain_numbers_and_older_artifacts_still_load(
    with_ranker: FundraisingForest, forest_alone: FundraisingForest, tmp_path: Path
) -> None:
    rows = city(4, ordinary=20).features
    with_ranker.save(tmp_path / "m")
    loaded = FundraisingForest.load(tmp_path / "m")
    np.testing.assert_array_equal(scores(loaded, rows), scores(with_ranker, rows))
    again = FundraisingForest.from_bytes(with_ranker.to_bytes())
    np.testing.assert_array_equal(scores(again, rows), scores(with_ranker, rows))
    document = json.loads((tmp_path / "m" / "model.json").read_text())
    assert len(document["ranker_coefficients"]) == len(FEATURE_NAMES) + 1
    assert document["ranker_inputs"][-1] == "forest_anomaly_score"
    assert all(isinstance(v, float) for v in document["ranker_scales"])
    assert document["ranker_verdicts"]["excluded_accounts"] == 6
    # No code: the arrays file holds the trees only, each a plain numeric .npy.
    with zipfile.ZipFile(io.BytesIO((tmp_path / "m" / "forest.npz").read_bytes())) as npz:
        assert all(not name.startswith("ranker") for name in npz.namelist())

    # A model.json from before the ranker: loads as the forest alone.
    older = {k: v for k, v in document.items() if not k.startswith("ranker_")}
    (tmp_path / "m" / "model.json").write_text(json.dumps(older))
    plain = FundraisingForest.load(tmp_path / "m")
    assert plain.ranker is None
    np.testing.assert_array_equal(
        scores(plain, rows), adjust(plain.anomaly_score(rows), rows, None)
    )

    # A broken ranker is refused, never half used.
    broken: list[dict[str, Any]] = [
        {**document, "ranker_coefficients": document["ranker_coefficients"][:-1]},
        {**document, "ranker_scales": [0.0] * len(document["ranker_scales"])},
        {**document, "ranker_inputs": []},
        {**document, "ranker_verdicts": {"confirmed_accounts": 6}},
        {**older, "ranker_intercept": 1.5},
        {**document, "ranker_means": "numbers"},
    ]
    for bad in broken:
        (tmp_path / "m" / "model.json").write_text(json.dumps(bad))
        with pytest.raises(ModelArtifactError, match="ranker"):
            FundraisingForest.load(tmp_path / "m")
    assert forest_alone.ranker is None
    # The forest alone is written as before the ranker existed, so a worker of the previous
    # release still loads it during a rolling upgrade.
    forest_alone.save(tmp_path / "f")
    written = json.loads((tmp_path / "f" / "model.json").read_text())
    assert not [key for key in written if key.startswith("ranker")]


def change(status: LeadStatus, at: datetime, outcome: Outcome | None = None) -> StatusChange:
    return StatusChange(status, "analyst1", at, "", outcome)


def lead(lead_id: str, account: str, first: datetime) -> bytes:
    return orjson.dumps(
        {
            "lead_id": lead_id,
            "revision": 1,
            "account_id": account,
            "first_evidence_time": first.isoformat(),
            "emitted_at": first.isoformat(),
        }
    )


def test_verdicts_are_read_from_the_status_records_latest_decision_first(tmp_path: Path) -> None:
    day = timedelta(days=1)
    closed, verifying = LeadStatus.CLOSED, LeadStatus.VERIFYING
    records = [
        # handed over as a case: confirmed
        LeadStatusRecord("L1", (change(verifying, AT), change(LeadStatus.HANDED_OVER, AT + day))),
        # excluded, then reopened: no verdict until decided again
        LeadStatusRecord(
            "L2",
            (change(closed, AT, Outcome.NOT_CONFIRMED), change(verifying, AT + day)),
        ),
        LeadStatusRecord("L3", (change(closed, AT, Outcome.OTHER),)),  # another matter
        LeadStatusRecord("L4", (change(LeadStatus.TRACKING, AT),)),
        # one account, two episodes: excluded first, confirmed later; the later one wins
        LeadStatusRecord("L5", (change(closed, AT, Outcome.NOT_CONFIRMED),)),
        LeadStatusRecord("L6", (change(closed, AT + 3 * day, Outcome.CONFIRMED),)),
        LeadStatusRecord("L7", (change(closed, AT, Outcome.NOT_CONFIRMED),)),
        LeadStatusRecord("L9", (change(closed, AT, Outcome.CONFIRMED),)),  # no such lead
    ]
    # The topic's values in order: L7 was confirmed at first, then corrected to excluded.
    values = [
        LeadStatusRecord("L7", (change(closed, AT - day, Outcome.CONFIRMED),)).to_json(),
        *(record.to_json() for record in records),
    ]
    leads = [
        lead("L1", "A1", AT - 5 * day),
        lead("L2", "A2", AT),
        lead("L3", "A3", AT),
        lead("L4", "A4", AT),
        lead("L5", "A5", AT - 9 * day),
        lead("L6", "A5", AT - 2 * day),
        lead("L7", "A7", AT - day),
    ]
    (tmp_path / "status.jsonl").write_bytes(b"\n".join(values) + b"\n")
    (tmp_path / "leads.jsonl").write_bytes(b"\n".join(leads) + b"\n")
    for verdicts in (
        read_verdicts(tmp_path / "status.jsonl", tmp_path / "leads.jsonl"),
        verdicts_from_records(records, leads),
    ):
        assert {a: v.confirmed for a, v in verdicts.accounts.items()} == {
            "A1": True,
            "A5": True,
            "A7": False,
        }
        assert verdicts.accounts["A5"].lead_id == "L6"
        assert verdicts.accounts["A1"].since_ms == round((AT - 5 * day).timestamp() * 1000)
        assert (verdicts.confirmed, verdicts.excluded) == (2, 1)
        assert (verdicts.records, verdicts.undecided, verdicts.unknown_leads) == (8, 3, 1)


def test_only_rows_from_the_judged_lead_on_are_labelled(history: TrainingSet) -> None:
    from offline.training import verdict_labels

    account = next(a for a in history.accounts if a.startswith("scheme"))
    verdicts = Verdicts({account: AccountVerdict(account, True, "L", AT, 3 * 86_400_000)})
    labels = verdict_labels(history, verdicts)
    rows = [i for i, a in enumerate(history.accounts) if a == account]
    assert labels[rows].tolist() == [-1, -1, -1, 1, 1, 1]
    assert np.sum(labels >= 0) == 3


def test_every_lead_the_ranker_touched_says_so(forest_alone: FundraisingForest) -> None:
    messages = three_bank_scheme().world.messages()

    def leads(model: FundraisingForest) -> list[Any]:
        runner = OfflineRunner(PipelineConfig(lateness_ms=7_200_000), model)
        return [lead for out in runner.run(messages) for lead in out.leads if lead.kind == "scored"]

    alone = leads(forest_alone)
    assert alone and all(r.feature != VERDICTS for lead in alone for r in lead.reasons)
    # A ranker sure that everything is like the confirmed cases: every score up by the weight.
    ranked = replace_ranker(forest_alone, intercept=60.0)
    raised = leads(ranked)
    # The same accounts and more (an episode may open earlier, under another lead id).
    assert {lead.account_id for lead in alone} <= {lead.account_id for lead in raised}
    for lead in raised:
        [reason] = [r for r in lead.reasons if r.feature == VERDICTS]
        assert "分析人员研判" in reason.text_zh and "评分调高 0.100" in reason.text_zh
        assert "raised by 0.100" in reason.text_en and reason.value == 1.0
    # Sure of the opposite: every lead the forest raised falls away, except where new payers'
    # money is passed on while earlier payers are paid returns (models.structure's
    # NEW_MONEY_PAYS_OLD, two pieces of structure at once), which outweighs the ranker's doubt.
    lowered = leads(replace_ranker(forest_alone, intercept=-60.0))
    assert len(lowered) < len(alone)
    for lead in lowered:
        features = [r.feature for r in lead.reasons]
        assert NEW_MONEY_PAYS_OLD in features and "评分调低 0.100" in lead.reasons[-1].text_zh


def replace_ranker(model: FundraisingForest, intercept: float) -> FundraisingForest:
    copy = FundraisingForest.from_bytes(model.to_bytes())
    inputs = len(FEATURE_NAMES) + 1
    ranker = VerdictRanker.from_numbers([0.0] * inputs, [1.0] * inputs, [0.0] * inputs, intercept)
    counts = ("confirmed_accounts", "excluded_accounts", "confirmed_rows", "excluded_rows")
    copy.set_ranker(ranker, dict.fromkeys(counts, 5))
    return copy
