"""Deterministic synthetic demonstration extract (fictional authorities).

Why this exists: real survey answers are confidential and never enter git, yet
``make reports``, the notebooks and the tests need an extract that looks and
behaves like a real one. So this module writes one that

* has the spec's exact shape: every column in the spec's order, only the
  codebook's answer codes, skip logic respected, a few blanks on every
  question (never an invalid value);
* matches the programme's published national figures (calibration targets in
  ``data/reference/synthetic.yaml``): answer rates are calibrated on the drawn
  sample itself, so they hit their targets to within item non-response noise;
* contains **real, known structure** for the analysis to find: a latent model
  in which well-being depends on planted drivers (feeling settled, a trusted
  adult, bullying, loneliness ...) with documented sizes, a null driver
  (``has_pet``) with no effect at all, modest authority differences, and a
  handful of large planted authority differences, and *correlated* items
  (shared factors: trusting carers, feeling settled and feeling safe move
  together, only two of them with an effect). Tests of the indicator and
  driver analysis can then check that they recover what was planted
  (:func:`planted_differences`, :func:`planted_drivers`,
  :func:`correlated_pairs`);
* is **byte-for-byte reproducible**: one seed from the YAML, one random stream
  per named stage (so adding a question does not reshuffle the others), no
  dependence on hash randomisation, dict order of anything but the YAML and
  codebook files, or the clock.

The codebook is the single source of truth for columns, surveys and codes:
nothing here names an answer code; the YAML names codes only as calibration
data and every one is checked against the codebook on load.

Every authority name and code is fictional (codes start ``E99``, which no real
ONS code does). See ``docs/synthetic-data.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import yamlfile
from analysis.core.files import write_atomic
from analysis.core.paths import PROJECT_ROOT, REFERENCE_DIR
from analysis.core.provenance import stable_key
from analysis.data.codebook import Codebook, Column, Measure, load_codebook
from analysis.data.synthetic_comments import add_comments, comment_truth, truth_path
from analysis.data.wellbeing import overall_wellbeing

CONFIG_PATH = REFERENCE_DIR / "synthetic.yaml"
DEFAULT_OUT = PROJECT_ROOT / "data" / "synthetic" / "extract.csv"
FIXTURE_PATH = PROJECT_ROOT / "tests" / "fixtures" / "extract.csv"

#: Text dtype of every generated column: what ``analysis.data.extract.read_extract``
#: returns for the written CSV (pandas' default ``str``; a blank is NaN).
TEXT_DTYPE = pd.StringDtype(na_value=np.nan)


class SyntheticConfigError(ValueError):
    """synthetic.yaml disagrees with the codebook (e.g. an answer code that does not exist)."""


# ----------------------------------------------------------------------------- config
def load_config(path: str | Path | None = None, fixture: bool = False) -> dict[str, Any]:
    """Read synthetic.yaml; with ``fixture=True`` the ``fixture`` section overrides the top level.

    The fixture shares calibration and planted effects with the full extract
    (so the committed fixture behaves like the demo data, only smaller) and
    replaces only what it names: seed, authorities, planted differences.
    """
    p = Path(path) if path else CONFIG_PATH
    with p.open(encoding="utf-8") as fh:
        raw = yamlfile.safe_load(fh)
    base = {k: v for k, v in raw.items() if k != "fixture"}
    if fixture:
        base.update(raw.get("fixture") or {})
    return base


def _surveys_of(value: Any, allowed: Iterable[str], where: str) -> list[str]:
    """Expand ``all`` or a list of survey codes, keeping codebook order and checking them."""
    allowed = list(allowed)
    if value in (None, "all"):
        return allowed
    unknown = [s for s in value if s not in allowed]
    if unknown:
        raise SyntheticConfigError(f"synthetic.yaml {where}: survey(s) {unknown} not in {allowed}")
    return [s for s in allowed if s in value]


def _check_codes(codes: Iterable[Any], col: Column, where: str, group: str | None = None) -> None:
    """Fail on any answer code the codebook does not list (YAML turns bare yes/no into booleans)."""
    valid = col.allowed_codes(group)
    bad = [c for c in codes if not isinstance(c, str) or c not in valid]
    if bad:
        raise SyntheticConfigError(
            f"synthetic.yaml {where}: {bad!r} not codes of '{col.name}' ({list(valid)}); "
            "quote codes such as \"yes\", \"no\" and \"0\""
        )


# ----------------------------------------------------------------------------- helpers
def _solve(rate: Callable[[float], float], target: float, lo: float = -30.0,
           hi: float = 30.0, iters: int = 60) -> float:
    """Bisection for the level at which a monotone (step) rate function crosses ``target``.

    The rates are computed on the drawn sample, so the solution is the level
    that makes *this* sample hit the target, not just its expectation.
    """
    f_lo, f_hi = rate(lo), rate(hi)
    increasing = f_hi >= f_lo
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if (rate(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _isin(values: np.ndarray, options: Iterable[Any]) -> np.ndarray:
    """Elementwise membership for object arrays holding None (``np.isin`` would sort them)."""
    opts = set(options)
    return np.fromiter((v in opts for v in values), dtype=bool, count=len(values))


def _meets_codes(values: np.ndarray, measure: Measure) -> np.ndarray:
    """Boolean: does each (code or number) value meet the measure's definition? False if None."""
    if measure.is_range:
        lo, hi = measure.counts
        num = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        with np.errstate(invalid="ignore"):
            return (num >= lo) & (num <= hi)
    return _isin(values, [str(c) for c in measure.counts])


def _range_rate(values: np.ndarray, measure: Measure) -> float:
    """Share of non-NaN numeric ``values`` in the measure's inclusive range."""
    ok = ~np.isnan(values)
    if not ok.any():
        return float("nan")
    lo, hi = measure.counts
    v = values[ok]
    return float(np.mean((v >= lo) & (v <= hi)))


def _dist(spec: dict[str, Any], survey: str) -> dict[str, float] | None:
    """A per-survey distribution from a YAML mapping keyed by survey code or ``all``."""
    d = spec.get(survey, spec.get("all"))
    return None if d is None else {str(k): float(v) for k, v in d.items()}


# ----------------------------------------------------------------------------- generator
class _Generator:
    """One run of the generator: draws, calibrates and assembles the text columns."""

    def __init__(self, cfg: dict[str, Any], cb: Codebook, seed: int | None):
        self.cfg = cfg
        self.cb = cb
        self.seed = int(cfg["seed"] if seed is None else seed)
        self.surveys = list(cb.surveys)
        self.authorities = sorted(cfg["authorities"], key=lambda a: str(a["code"]))
        self.years = sorted({int(y) for a in self.authorities for y in a["sizes"]})
        self.latest = self.years[-1]
        self.planted = list(cfg.get("planted_differences") or [])
        self.indicator_of = {m.column: m for m in cb.indicators.values()}
        self.null = set(cfg.get("null_drivers") or [])
        self._check_config()

    # -- randomness ---------------------------------------------------
    def rng(self, *keys: str) -> np.random.Generator:
        """An independent stream per named stage: changing one stage leaves the others alone."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, *map(stable_key, keys)]))

    # -- config checks ------------------------------------------------
    def _check_config(self) -> None:
        """Refuse a YAML that names codes, indicators or authorities the codebook/config lacks."""
        cb, cfg = self.cb, self.cfg
        codes = [str(a["code"]) for a in self.authorities]
        if len(set(codes)) != len(codes):
            raise SyntheticConfigError("synthetic.yaml: authority codes must be unique")
        for mid, per_survey in cfg["targets"].items():
            if mid not in cb.indicators:
                raise SyntheticConfigError(f"synthetic.yaml targets: unknown indicator {mid!r}")
            _surveys_of(list(per_survey), cb.indicators[mid].surveys, f"targets.{mid}")
        for qname, spec in (cfg.get("questions") or {}).items():
            col = cb.columns[qname]
            if "order" in spec:
                _check_codes(spec["order"], col, f"questions.{qname}.order")
            if "weights" in spec:
                _check_codes(list(spec["weights"]), col, f"questions.{qname}.weights")
        for name in ("gender", "placement", "years_in_care", "disability"):
            col = cb.columns[name]
            for key, d in cfg["demographics"][name].items():
                group = None if key == "all" else cb.group(key)
                _check_codes(list(d), col, f"demographics.{name}.{key}", group)
        for shift in cfg.get("answer_shifts") or []:
            if "column" in shift:
                _check_codes([shift["code"]], cb.columns[shift["column"]], "answer_shifts")
        for eff in cfg.get("demographic_effects") or []:
            _check_codes([eff["code"]], cb.columns[eff["column"]], "demographic_effects")
        for p in self.planted:
            if p["indicator"] not in cb.measures():
                raise SyntheticConfigError(f"planted_differences: unknown {p['indicator']!r}")
            if str(p["la_code"]) not in codes:
                raise SyntheticConfigError(f"planted_differences: no authority {p['la_code']}")
        for f in cfg.get("shared_factors") or []:
            for q in f["questions"]:
                if q not in cb.questions or q not in self.indicator_of:
                    raise SyntheticConfigError(
                        f"shared_factors.{f['name']}: unknown question {q!r}")
                if self.indicator_of[q].id in self.null:
                    raise SyntheticConfigError(
                        f"shared_factors.{f['name']}: {q} is a null driver (independent of all)")
        for d in cfg.get("planted_drivers") or []:
            if d["indicator"] not in cb.indicators:
                raise SyntheticConfigError(f"planted_drivers: unknown {d['indicator']!r}")
            if d["indicator"] in self.null:
                raise SyntheticConfigError(f"{d['indicator']} is a null driver and planted")

    # -- skeleton -----------------------------------------------------
    def skeleton(self) -> None:
        """Rows: one per answer, ordered by year, authority code and survey."""
        rng = self.rng("skeleton")
        la, year, sv = [], [], []
        default_mix = self.cfg["survey_mix"]
        for y in self.years:
            for ai, a in enumerate(self.authorities):
                sizes = {int(k): int(v) for k, v in a["sizes"].items()}
                if y not in sizes:
                    continue
                mix = a.get("mix", default_mix)
                p = np.array([float(mix.get(s, 0.0)) for s in self.surveys])
                counts = rng.multinomial(sizes[y], p / p.sum())
                for si, c in enumerate(counts):
                    la += [ai] * int(c)
                    year += [y] * int(c)
                    sv += [si] * int(c)
        self.la = np.array(la, dtype=int)
        self.year = np.array(year, dtype=int)
        self.yi = np.searchsorted(self.years, self.year)
        self.sv = np.array(sv, dtype=int)
        self.n = len(self.la)
        self.survey = np.array(self.surveys, dtype=object)[self.sv]
        self.values: dict[str, np.ndarray] = {}

    def asked(self, column: str) -> np.ndarray:
        """Rows whose survey asks ``column`` (skip logic from the codebook)."""
        return _isin(self.survey, list(self.cb.columns[column].surveys))

    def rows_of(self, survey: str) -> np.ndarray:
        """Positions of the answers to one survey (sorted, so subsets can be searched)."""
        return np.flatnonzero(self.survey == survey)

    # -- demographics -------------------------------------------------
    def demographics(self) -> None:
        """Age, gender, placement, time in care, disability: from the YAML mixes, per survey."""
        cfg, cb = self.cfg["demographics"], self.cb
        rng = self.rng("age")
        age = np.zeros(self.n, dtype=int)
        for s in self.surveys:
            idx = self.rows_of(s)
            lo, hi = cb.age_band(s)
            ages = np.arange(lo, hi + 1)
            w = cfg.get("age_weights", {}).get(s)
            p = np.ones(len(ages)) if w is None else np.array([float(w[int(a)]) for a in ages])
            age[idx] = rng.choice(ages, size=len(idx), p=p / p.sum())
        self.age = age
        self.values["age"] = np.array([str(a) for a in age], dtype=object)
        for name in ("gender", "placement", "years_in_care", "disability"):
            out = np.full(self.n, None, dtype=object)
            rng = self.rng("demographics", name)
            draws = rng.random(self.n)
            for s in cb.columns[name].surveys:
                d = _dist(cfg[name], s)
                if d is None:
                    raise SyntheticConfigError(f"demographics.{name}: no mix for survey {s}")
                idx = self.rows_of(s)
                codes = np.array(list(d), dtype=object)
                cum = np.cumsum(np.array(list(d.values())))
                out[idx] = codes[np.minimum(np.searchsorted(cum / cum[-1], draws[idx],
                                                            side="right"), len(codes) - 1)]
            self.values[name] = out

    # -- answers ------------------------------------------------------
    def _question_order(self) -> list[str]:
        """Questions in codebook order, but each one after any question its answers depend on."""
        links = {}
        for sh in self.cfg.get("answer_shifts") or []:
            if "indicator" in sh:
                links.setdefault(sh["question"], set()).add(
                    self.cb.indicators[sh["indicator"]].column)
        todo = [q for q, c in self.cb.questions.items() if c.domain != "wellbeing"]
        done: list[str] = []
        while todo:
            for q in todo:
                if links.get(q, set()) <= set(done):
                    done.append(q)
                    todo.remove(q)
                    break
            else:
                raise SyntheticConfigError(f"answer_shifts: circular links among {todo}")
        return done

    def _code_distribution(self, column: Column, survey: str) -> tuple[list[str], np.ndarray]:
        """Codes best-to-worst and their national probabilities from the indicator target."""
        m = self.indicator_of[column.name]
        spec = (self.cfg.get("questions") or {}).get(column.name, {})
        codes = list(column.allowed_codes(self.cb.group(survey)))
        counted = [c for c in codes if c in {str(x) for x in m.counts}]
        excluded = [c for c in codes if c in m.base_excludes]
        rest = [c for c in codes if c not in counted and c not in excluded]
        order = [str(c) for c in spec["order"]] if "order" in spec else (
            counted + excluded + rest if m.direction == "higher_is_better"
            else excluded + rest + counted)
        if sorted(order) != sorted(codes):
            raise SyntheticConfigError(f"questions.{column.name}.order must list {codes}")
        try:
            t = float(self.cfg["targets"][m.id][survey])
        except KeyError:
            raise SyntheticConfigError(f"targets.{m.id}: no target for {survey}") from None
        ex = spec.get("excluded_share", 0.0)
        p_ex = float(ex.get(survey, 0.0) if isinstance(ex, dict) else ex) if excluded else 0.0
        w = {str(k): float(v) for k, v in (spec.get("weights") or {}).items()}
        probs = {}
        for group, share in ((counted, t * (1 - p_ex)), (rest, (1 - t) * (1 - p_ex)),
                             (excluded, p_ex)):
            tot = sum(w.get(c, 1.0) for c in group)
            for c in group:
                probs[c] = share * w.get(c, 1.0) / tot
        return order, np.array([probs[c] for c in order])

    def _planted_rows(self, indicator: str, survey: str) -> list[tuple[np.ndarray, float]]:
        """(rows, rate) of each planted difference on this indicator and survey (latest year)."""
        codes = [str(a["code"]) for a in self.authorities]
        out = []
        for p in self.planted:
            if p["indicator"] != indicator or p["survey"] != survey:
                continue
            ai = codes.index(str(p["la_code"]))
            yr = int(p.get("survey_year", self.latest))
            rows = np.flatnonzero((self.la == ai) & (self.year == yr) & (self.survey == survey))
            out.append((rows, float(p["rate"])))
        return out

    def _shifts(self, question: str) -> np.ndarray:
        """Answer-propensity shifts for a question from demographics and linked answers."""
        out = np.zeros(self.n)
        for sh in self.cfg.get("answer_shifts") or []:
            if sh["question"] != question:
                continue
            if "column" in sh:
                hit = self.values[sh["column"]] == str(sh["code"])
            else:
                m = self.cb.indicators[sh["indicator"]]
                hit = _meets_codes(self.values[m.column], m)
            out += np.where(hit, float(sh["shift"]), 0.0)
        return out

    def _factor_shifts(self, question: str) -> np.ndarray:
        """Shifts from the shared factors (``shared_factors``) a question loads on.

        Each factor is one standard-normal draw per respondent (its own random
        stream), added with the factor's loading to the answer propensity of
        every question it names: those answers move together beyond the
        general factor, as trusting carers, feeling settled and feeling safe do
        in real data. A factor acts on answers only, never on well-being, so an
        item whose only link to well-being is its factor has no effect of its
        own (see :func:`correlated_pairs`).
        """
        out = np.zeros(self.n)
        for f in self.cfg.get("shared_factors") or []:
            if question in f["questions"]:
                draw = self.rng("factor", str(f["name"])).standard_normal(self.n)
                out += float(f["loading"]) * draw
        return out

    def answers(self) -> None:
        """Every non-well-being question: ordinal logit draws calibrated to the national targets."""
        cb = self.cb
        n_auth, n_year = len(self.authorities), len(self.years)
        ae = self.cfg["authority_effects"]
        self.u = self.rng("latent").standard_normal(self.n)
        for q in self._question_order():
            col = cb.columns[q]
            spec = (self.cfg.get("questions") or {}).get(q, {})
            r = self.rng("authority", q)
            is_scale = col.scale is not None
            a_sd = float(spec.get("authority_sd", ae["question_sd"]))
            auth = r.normal(0, a_sd, n_auth)[self.la]
            auth += r.normal(0, float(ae["year_sd"]), (n_auth, n_year))[self.la, self.yi]
            loading = 0.0 if q in self.null else float(spec.get("loading",
                                                                  self.cfg["latent_loading"]))
            eta = auth + loading * self.u + self._shifts(q) + self._factor_shifts(q)
            out = np.full(self.n, None, dtype=object)
            r = self.rng("answers", q)
            noise = r.normal(0, float(spec.get("sd", 1.0)), self.n) if is_scale \
                else r.logistic(size=self.n)
            m = self.indicator_of[q]
            for s in col.surveys:
                idx = self.rows_of(s)
                if not len(idx):
                    continue
                planted = self._planted_rows(m.id, s)
                cal = np.setdiff1d(idx, np.concatenate([p[0] for p in planted] or [[]]).astype(int))
                if is_scale:
                    out[idx] = self._scale_answers(col, m, s, eta, noise, idx, cal, planted)
                else:
                    out[idx] = self._coded_answers(col, m, s, eta, noise, idx, cal, planted)
            self.values[q] = out

    def _coded_answers(self, col: Column, m: Measure, s: str, eta: np.ndarray,
                       noise: np.ndarray, idx: np.ndarray, cal: np.ndarray,
                       planted: list[tuple[np.ndarray, float]]) -> np.ndarray:
        """Cut latent "badness" z = noise - eta at national quantiles: rates hit targets exactly."""
        order, p = self._code_distribution(col, s)
        z = noise - eta
        cal = cal if len(cal) else idx
        theta = np.quantile(z[cal], np.cumsum(p)[:-1])
        codes = np.array(order, dtype=object)
        counted = _isin(codes, [str(c) for c in m.counts])
        z = z.copy()
        for rows, rate in planted:
            if not len(rows):
                continue
            z0 = z[rows].copy()

            def share(shift: float, z0: np.ndarray = z0) -> float:
                return float(counted[np.searchsorted(theta, z0 - shift, side="right")].mean())

            z[rows] = z0 - _solve(share, rate)
        return codes[np.searchsorted(theta, z[idx], side="right")]

    def _scale_answers(self, col: Column, m: Measure, s: str, eta: np.ndarray,
                       noise: np.ndarray, idx: np.ndarray, cal: np.ndarray,
                       planted: list[tuple[np.ndarray, float]]) -> np.ndarray:
        """0-10 answers: level + shifts + noise, rounded; the level is solved for the target."""
        lo, hi = col.scale  # type: ignore[misc]
        base = eta + noise
        t = float(self.cfg["targets"][m.id][s])
        cal = cal if len(cal) else idx

        def score(level: float, rows: np.ndarray) -> np.ndarray:
            return np.clip(np.rint(level + base[rows]), lo, hi)

        level = _solve(lambda c: _range_rate(score(c, cal), m), t, lo - 20, hi + 20)
        vals = score(level, np.arange(self.n))
        for rows, rate in planted:
            if len(rows):
                shift = _solve(lambda c, rows=rows: _range_rate(score(level + c, rows), m),
                               rate, -20, 20)
                vals[rows] = score(level + shift, rows)
        return np.array([str(int(v)) for v in vals[idx]], dtype=object)

    # -- blanks -------------------------------------------------------
    def blanks(self) -> dict[str, np.ndarray]:
        """Blank masks, drawn before well-being so that calibration sees what the analysis sees."""
        nr = self.cfg.get("nonresponse") or {}
        rates = nr.get("columns") or {}
        out = {}
        for name, col in self.cb.columns.items():
            if col.required:
                continue
            rate = float(rates.get(name, nr.get("default", 0.0)))
            out[name] = self.rng("blank", name).random(self.n) < rate
        return out

    # -- well-being ---------------------------------------------------
    def _latent_wellbeing(self) -> np.ndarray:
        """D: planted driver effects + demographics + authority + person noise (0-10 points)."""
        cb, cfg = self.cb, self.cfg
        d = np.zeros(self.n)
        for drv in cfg.get("planted_drivers") or []:
            m = cb.indicators[drv["indicator"]]
            surveys = _surveys_of(drv.get("surveys"), m.surveys, f"planted_drivers.{m.id}")
            hit = _meets_codes(self.values[m.column], m) & _isin(self.survey, surveys)
            d += np.where(hit, float(drv["size"]), 0.0)
        for eff in cfg.get("demographic_effects") or []:
            surveys = _surveys_of(eff.get("surveys"), self.surveys, "demographic_effects")
            hit = (self.values[eff["column"]] == str(eff["code"])) & _isin(self.survey, surveys)
            d += np.where(hit, float(eff["size"]), 0.0)
        for s, slope in (cfg.get("age_slope") or {}).items():
            lo, hi = cb.age_band(s)
            idx = self.rows_of(s)
            d[idx] += float(slope) * (self.age[idx] - (lo + hi) / 2)
        r = self.rng("wellbeing", "authority")
        d += r.normal(0, float(cfg["authority_effects"]["wellbeing_sd"]),
                      len(self.authorities))[self.la]
        sd = np.array([float(cfg["wellbeing"]["person_sd"][s]) for s in self.surveys])[self.sv]
        d += sd * self.rng("wellbeing", "person").standard_normal(self.n)
        return d

    def wellbeing(self, blank: dict[str, np.ndarray]) -> None:
        """Well-being items from the latent score, each level calibrated on the observed answers."""
        cb, wcfg = self.cb, self.cfg["wellbeing"]
        self.d = self._latent_wellbeing()
        self.blank = blank
        self.wb_items = [q for q, c in cb.questions.items() if c.domain == "wellbeing"]
        self.overall_cols = list(cb.overall["items"]) + [cb.overall["faces_column"]]
        self.faces_col = cb.overall["faces_column"]
        fmap = {int(k): float(v) for k, v in cb.overall["faces_map"].items()}
        self.face_vals = np.array([fmap[k] for k in sorted(fmap)])
        self.inverse = wcfg.get("inverse_items") or {}
        self.item_sd = float(wcfg["item_sd"])
        self.wb_noise = {c: self.rng("wellbeing", "item", c).standard_normal(self.n)
                         for c in self.wb_items}
        self.levels: dict[tuple[str, str], float] = {}
        num = {c: np.full(self.n, np.nan) for c in self.wb_items}
        for s in self.surveys:
            for c, (rows, values) in self._wellbeing_survey(s).items():
                num[c][rows] = values
        inv_map = {v: k for k, v in fmap.items()}
        for c in self.wb_items:
            if c == self.faces_col:
                text = [None if np.isnan(x) else str(inv_map[float(x)]) for x in num[c]]
            else:
                text = [None if np.isnan(x) else str(int(x)) for x in num[c]]
            self.values[c] = np.array(text, dtype=object)

    def _item_values(self, c: str, level: float, rows: np.ndarray,
                     shift: float = 0.0) -> np.ndarray:
        """Numeric answer to item ``c`` on ``rows`` (faces: its mapped 0-10 value); NaN if blank.

        Positive items are level + D + noise; inverse items (anxiety) move
        against D. Faces are the face whose mapped value is nearest.
        """
        d = self.d[rows] + shift
        if c in self.inverse:
            inv = self.inverse[c]
            v = level - float(inv["slope"]) * d + float(inv["sd"]) * self.wb_noise[c][rows]
        else:
            v = level + d + self.item_sd * self.wb_noise[c][rows]
        if c == self.faces_col:
            fv = self.face_vals
            v = fv[np.abs(v[:, None] - fv[None, :]).argmin(axis=1)]
        else:
            lo, hi = self.cb.columns[c].scale  # type: ignore[misc]
            v = np.clip(np.rint(v), lo, hi)
        return np.where(self.blank[c][rows], np.nan, v)

    def _rate(self, mid: str, cols: dict[str, np.ndarray]) -> float:
        """A well-being measure's rate from item values (overall = mean of those answered)."""
        m = self.cb.wellbeing[mid]
        if m.column != "overall":
            return _range_rate(cols[m.column], m)
        stack = np.column_stack([cols[c] for c in self.overall_cols if c in cols])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-blank rows: no overall score
            return _range_rate(np.nanmean(stack, axis=1), m)

    def _wellbeing_survey(self, s: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Calibrate one survey's item levels and planted shifts; return (rows, values) per item."""
        cb = self.cb
        idx = self.rows_of(s)
        if not len(idx):
            return {}
        asked = [c for c in self.wb_items if s in cb.columns[c].surveys]
        targets = {k: float(v) for k, v in (self.cfg["wellbeing"]["targets"].get(s) or {}).items()}
        planted = [(rows, rate, mid) for mid in cb.wellbeing
                   for rows, rate in self._planted_rows(mid, s)]
        excl = np.concatenate([p[0] for p in planted] or [[]]).astype(int)
        cal = np.setdiff1d(idx, excl)
        cal = cal if len(cal) else idx
        level: dict[str, float] = {}
        # 1. items with a target of their own
        for mid, t in targets.items():
            c = cb.wellbeing[mid].column
            if c != "overall":
                level[c] = _solve(lambda x, c=c, mid=mid: self._rate(
                    mid, {c: self._item_values(c, x, cal)}), t)
        # 2. the other overall items share one level, solved for low overall well-being
        shared = [c for c in asked if c in self.overall_cols and c not in level]
        if shared:
            if "low_overall_wellbeing" not in targets:
                raise SyntheticConfigError(f"wellbeing.targets.{s}: needs low_overall_wellbeing")
            fixed = {c: self._item_values(c, level[c], cal) for c in level}

            def overall_rate(x: float) -> float:
                cols = dict(fixed)
                cols.update({c: self._item_values(c, x, cal) for c in shared})
                return self._rate("low_overall_wellbeing", cols)

            x = _solve(overall_rate, targets["low_overall_wellbeing"])
            level.update({c: x for c in shared})
        missing = [c for c in asked if c not in level]
        if missing:
            raise SyntheticConfigError(f"wellbeing.targets.{s}: no target sets {missing}")
        out = {c: (idx, self._item_values(c, level[c], idx)) for c in asked}
        self.levels.update({(s, c): level[c] for c in asked})
        # 3. planted differences on well-being: one shift of D for that authority's answers
        for rows, rate, mid in planted:
            if not len(rows):
                continue

            def sub_rate(shift: float, rows: np.ndarray = rows, mid: str = mid) -> float:
                return self._rate(mid, {c: self._item_values(c, level[c], rows, shift)
                                        for c in asked})

            shift = _solve(sub_rate, rate, -20, 20)
            pos = np.searchsorted(idx, rows)  # rows are a subset of idx (both sorted)
            for c in asked:
                out[c][1][pos] = self._item_values(c, level[c], rows, shift)
        return out

    # -- assembly -----------------------------------------------------
    def frame(self, blank: dict[str, np.ndarray]) -> pd.DataFrame:
        """Spec columns in codebook order, text as written to the CSV, blanks as NaN."""
        cb = self.cb
        codes = np.array([str(a["code"]) for a in self.authorities], dtype=object)
        names = np.array([str(a["name"]) for a in self.authorities], dtype=object)
        self.values["response_id"] = np.array(
            [f"SYN{y}-{i + 1:06d}" for i, y in enumerate(self.year)], dtype=object)
        self.values["la_code"] = codes[self.la]
        self.values["la_name"] = names[self.la]
        self.values["survey"] = self.survey
        self.values["survey_year"] = np.array([str(y) for y in self.year], dtype=object)
        out = {}
        for name in cb.columns:
            v = self.values[name].copy()
            v[~self.asked(name)] = None  # skip logic, whatever was drawn
            if name in blank:
                v[blank[name]] = None
            out[name] = pd.Series(v, dtype=TEXT_DTYPE)
        return pd.DataFrame(out)

    def run(self) -> pd.DataFrame:
        """Stages in dependency order: blanks before well-being, whose calibration needs them."""
        self.skeleton()
        self.demographics()
        self.answers()
        blank = self.blanks()
        self.wellbeing(blank)
        return self.free_text(self.frame(blank))

    def free_text(self, df: pd.DataFrame) -> pd.DataFrame:
        """Children's comments (spec v2) with planted details and their truth in ``attrs``.

        Drawn from their own random streams (:mod:`analysis.data.synthetic_comments`),
        so the answers are the same bytes with or without them; ``comments:
        false`` in the YAML leaves them out (an older, v1-shaped extract).
        """
        if self.cfg.get("comments", True) is False:
            return df

        return add_comments(df, self.cfg, self.cb, self.rng)


# ----------------------------------------------------------------------------- public API
def _config(config: dict[str, Any] | str | Path | None, fixture: bool = False) -> dict[str, Any]:
    """Accept a loaded config as is, or load one (a path, or None for the project's YAML)."""
    if isinstance(config, dict):
        return config
    return load_config(config, fixture=fixture)


def generate(config: dict[str, Any] | str | Path | None = None,
             seed: int | None = None) -> pd.DataFrame:
    """The synthetic extract as a frame of text, exactly as the CSV holds it.

    ``config`` is a loaded config (:func:`load_config`), a path to a YAML file,
    or None for ``data/reference/synthetic.yaml``; ``seed`` overrides its seed.
    Columns are the spec's, in its order, dtype ``str`` with blanks as NaN,
    which is what :func:`analysis.data.extract.read_extract` returns for the file.
    """
    return _Generator(_config(config), load_codebook(), seed).run()


def generate_fixture(config: dict[str, Any] | str | Path | None = None) -> pd.DataFrame:
    """The small committed test extract (five authorities, ~800 answers)."""
    return generate(_config(config, fixture=True) if not isinstance(config, dict) else config)


def to_csv_text(df: pd.DataFrame) -> str:
    """The CSV text: comma-separated, minimal quoting, ``\\n`` line ends, blanks empty."""
    return df.to_csv(index=False, lineterminator="\n")


def write_extract(path: str | Path = DEFAULT_OUT, df: pd.DataFrame | None = None) -> Path:
    """Write ``df`` (default: :func:`generate`) as UTF-8 CSV, atomically; same bytes every run.

    The ground truth of its planted comments (``comment_truth(df)``)
    is written beside it as ``comments-truth.csv`` (for measuring redaction and
    safeguarding; never an input of the build, never published).
    """

    path = Path(path)
    df = generate() if df is None else df
    write_atomic(path, to_csv_text(df))
    truth = comment_truth(df)
    if truth is not None:
        write_atomic(truth_path(path), to_csv_text(truth))
    return path


def write_fixture(path: str | Path = FIXTURE_PATH) -> Path:
    """Write the committed test fixture (``tests/fixtures/extract.csv``)."""
    return write_extract(path, generate_fixture())


def planted_differences(config: dict[str, Any] | str | Path | None = None,
                        fixture: bool = False) -> pd.DataFrame:
    """The planted authority differences, for tests of the indicator analysis.

    One row each: ``la_code``, ``la_name``, ``survey_year`` (the latest year
    unless stated), ``survey``, ``indicator``, ``direction`` (``higher`` or
    ``lower`` than the national target), ``rate`` (planted), ``national_rate``
    (target) and ``expected_flag`` (``better``/``worse`` by the codebook's
    direction for the indicator).
    """
    cfg = _config(config, fixture)
    cb = load_codebook()
    names = {str(a["code"]): str(a["name"]) for a in cfg["authorities"]}
    latest = max(int(y) for a in cfg["authorities"] for y in a["sizes"])
    rows = []
    for p in cfg.get("planted_differences") or []:
        mid, s = p["indicator"], p["survey"]
        m = cb.measure(mid)
        nat = cfg["targets"].get(mid, {}).get(s) if mid in cb.indicators else \
            (cfg["wellbeing"]["targets"].get(s) or {}).get(mid)
        rate = float(p["rate"])
        direction = "higher" if nat is None or rate > float(nat) else "lower"
        better = (direction == "higher") == (m.direction == "higher_is_better")
        rows.append({
            "la_code": str(p["la_code"]), "la_name": names[str(p["la_code"])],
            "survey_year": int(p.get("survey_year", latest)), "survey": s, "indicator": mid,
            "direction": direction, "rate": rate,
            "national_rate": float("nan") if nat is None else float(nat),
            "expected_flag": "better" if better else "worse",
        })
    cols = ["la_code", "la_name", "survey_year", "survey", "indicator", "direction", "rate",
            "national_rate", "expected_flag"]
    return pd.DataFrame(rows, columns=cols)


def planted_drivers(config: dict[str, Any] | str | Path | None = None,
                    include_null: bool = True,
                    include_demographics: bool = False) -> pd.DataFrame:
    """The planted drivers of overall well-being, one row per indicator and survey asking it.

    Columns: ``indicator``, ``survey``, ``group`` (``in_care``/``leavers``),
    ``sign`` (+1, -1, or 0 for a null driver), ``size`` (points on the 0-10
    well-being scale for a respondent meeting the indicator), ``kind``
    (``driver``, ``null``, or ``demographic`` whose ``indicator`` reads
    ``column=code``).
    """
    cfg = _config(config)
    cb = load_codebook()
    rows = []
    for d in cfg.get("planted_drivers") or []:
        m = cb.indicators[d["indicator"]]
        for s in _surveys_of(d.get("surveys"), m.surveys, "planted_drivers"):
            size = float(d["size"])
            rows.append({"indicator": m.id, "survey": s, "group": cb.group(s),
                         "sign": int(np.sign(size)), "size": size, "kind": "driver"})
    if include_null:
        for mid in cfg.get("null_drivers") or []:
            for s in cb.indicators[mid].surveys:
                rows.append({"indicator": mid, "survey": s, "group": cb.group(s),
                             "sign": 0, "size": 0.0, "kind": "null"})
    if include_demographics:
        for e in cfg.get("demographic_effects") or []:
            for s in _surveys_of(e.get("surveys"), cb.surveys, "demographic_effects"):
                size = float(e["size"])
                rows.append({"indicator": f"{e['column']}={e['code']}", "survey": s,
                             "group": cb.group(s), "sign": int(np.sign(size)), "size": size,
                             "kind": "demographic"})
    return pd.DataFrame(rows, columns=["indicator", "survey", "group", "sign", "size", "kind"])


def correlated_pairs(config: dict[str, Any] | str | Path | None = None) -> pd.DataFrame:
    """Pairs of indicators that move together, one planted as a driver and one not.

    One row per survey, shared factor (``shared_factors`` in the YAML),
    ``planted`` indicator (a planted driver in that survey, with its
    ``planted_size``) and ``partner`` indicator (on the same factor, no effect
    on well-being in that survey), both asked in the survey. A driver analysis
    that ranks ``partner`` above ``planted`` has mistaken a correlate for the
    driver.
    """
    cfg = _config(config)
    cb = load_codebook()
    of_column = {m.column: m for m in cb.indicators.values()}
    sizes = {(r["indicator"], r["survey"]): r["size"]
             for r in planted_drivers(cfg, include_null=False).to_dict("records")}
    rows = []
    for f in cfg.get("shared_factors") or []:
        items = [of_column[q] for q in f["questions"]]
        for s in cb.surveys:
            asked = [m for m in items if s in m.surveys]
            for a in asked:
                for b in asked:
                    if (a.id, s) in sizes and (b.id, s) not in sizes:
                        rows.append({"survey": s, "factor": str(f["name"]), "planted": a.id,
                                     "planted_size": float(sizes[(a.id, s)]),
                                     "partner": b.id})
    return pd.DataFrame(rows, columns=["survey", "factor", "planted", "planted_size", "partner"])


def calibration_table(df: pd.DataFrame | None = None,
                      config: dict[str, Any] | str | Path | None = None) -> pd.DataFrame:
    """Target vs achieved national rate for every calibrated indicator and survey.

    Achieved rates use the codebook's definitions (:meth:`Measure.meets`) and
    :func:`analysis.data.wellbeing.overall_wellbeing`, i.e. what the briefings
    would compute on the written extract.
    """

    cfg = _config(config)
    cb = load_codebook()
    df = generate(cfg) if df is None else df
    overall = overall_wellbeing(df, cb)
    rows = []
    wanted = [(mid, s, t) for mid, per in cfg["targets"].items() for s, t in per.items()]
    wanted += [(mid, s, t) for s, per in cfg["wellbeing"]["targets"].items()
               for mid, t in (per or {}).items()]
    for mid, s, t in wanted:
        m = cb.measure(mid)
        in_s = df["survey"] == s
        values = overall[in_s] if m.column == "overall" else df.loc[in_s, m.column]
        met = m.meets(values).dropna()
        rows.append({"indicator": mid, "survey": s, "target": float(t),
                     "achieved": float(met.mean()), "n": int(met.size)})
    return pd.DataFrame(rows)


def authority_sizes(df: pd.DataFrame) -> pd.DataFrame:
    """Answers per authority and year (and per survey): the size table in the docs."""
    t = df.groupby(["la_code", "la_name", "survey_year", "survey"]).size().unstack(fill_value=0)
    t["total"] = t.sum(axis=1)
    return t.reset_index()
