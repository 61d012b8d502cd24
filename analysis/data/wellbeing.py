"""Overall well-being score, as the spec defines it.

Kept apart from the indicator code because the drivers model, the indicator
tables and the synthetic generator's checks all need the same score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.codebook import Codebook, load_codebook


def overall_wellbeing(df: pd.DataFrame, codebook: Codebook | None = None) -> pd.Series:
    """Mean of the 0-10 well-being items each respondent answered.

    The faces item (4-7s and 8-11s) is first mapped onto 0-10 (1->0 ... 5->10)
    and averaged with the others, so 4-7s get the mapped faces score alone and
    8-11s the mean of faces and life satisfaction. No item answered -> NaN.
    """
    cb = codebook or load_codebook()
    spec = cb.overall
    parts = []
    for item in spec["items"]:
        if item in df.columns:
            parts.append(pd.to_numeric(df[item], errors="coerce"))
    faces = spec["faces_column"]
    if faces in df.columns:
        mapping = {int(k): float(v) for k, v in spec["faces_map"].items()}
        parts.append(pd.to_numeric(df[faces], errors="coerce").map(mapping))
    if not parts:
        return pd.Series(np.nan, index=df.index, name="overall")
    stacked = pd.concat(parts, axis=1)
    return stacked.mean(axis=1, skipna=True).rename("overall")


