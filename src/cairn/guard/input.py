"""`InjectionInputGuard`: the pipeline's input guard (`cairn.stages.InputGuard`) on the detector.

Policies:

- `off`: no scan; the verdict is `off`;
- `flag`: scan, let the question through (`pass`), with the reasons in the verdict's `reason`
  when it was flagged;
- `block`: a flagged question gets `blocked` and a refusal that reveals nothing about the
  prompt, the rules or why, when the evidence is strong: a rule matched, an evasion trick
  was found, or the classifier alone scores it at `block_score` or more. A question flagged
  by the classifier alone at a lower score is answered and marked `flagged`: terse keyword
  questions ("zanzibar password?") score there, and refusing them would refuse users
  (NotInject's benign questions are flagged at about 4%).

The last `Risk` is kept on the guard only through `assess`, which callers that want the score
(traces, the `risk` field of the API) call instead of or before `check`.
"""

from __future__ import annotations

from typing import Literal, get_args

from cairn.errors import ConfigError
from cairn.guard.detector import InjectionDetector, Risk
from cairn.stages import OFF, GuardVerdict

InputPolicy = Literal["off", "flag", "block"]
REFUSAL = "I can't help with that request."
REASON = "prompt-injection"
BLOCK_SCORE = 0.8
"""Under `block`, a question flagged by the classifier alone is refused from this score on."""


class InjectionInputGuard:
    """Checks a question for injection and jailbreak attempts under an `off|flag|block` policy."""

    def __init__(
        self,
        detector: InjectionDetector,
        policy: InputPolicy = "flag",
        *,
        block_score: float = BLOCK_SCORE,
    ) -> None:
        if policy not in get_args(InputPolicy):
            raise ConfigError(
                f"unknown input guard policy {policy!r}: use one of "
                f"{', '.join(get_args(InputPolicy))} (CAIRN_GUARD_INPUT)"
            )
        self.detector = detector
        self.policy: InputPolicy = policy
        self.block_score = block_score

    def assess(self, question: str) -> Risk:
        """The question's risk, whatever the policy."""
        return self.detector.scan(question, kind="question")

    def check(self, question: str) -> GuardVerdict:
        if self.policy == "off":
            return OFF
        risk = self.assess(question)
        verdict = self.verdict(risk)
        if not verdict.blocked:
            return verdict
        # A legitimate question with an injection attached: answer the legitimate part.
        separated = self.detector.separate(question, risk)
        if separated.legitimate and not self.assess(separated.legitimate).flagged:
            return GuardVerdict(
                status="flagged",
                reason=f"{verdict.reason}; answered without {len(separated.removed)} part(s)",
                question=separated.legitimate,
            )
        return verdict

    def verdict(self, risk: Risk) -> GuardVerdict:
        """The verdict this guard's policy gives a question with `risk`."""
        if self.policy == "off":
            return OFF
        if not risk.flagged:
            return GuardVerdict(status="pass")
        detail = f"{REASON}: {', '.join(risk.reasons)} (score {risk.score:.2f})"
        strong = risk.score >= self.block_score or any(
            not r.startswith("model:") for r in risk.reasons
        )
        if self.policy == "block" and strong:
            return GuardVerdict(status="blocked", reason=detail, refusal=REFUSAL)
        return GuardVerdict(status="flagged", reason=detail)
