"""How checks/plan.py (`make plan`) spends its time: each template is evaluated and rendered once a side.
A failure here says: you changed a choice of the blueprint; change the test with it."""
from __future__ import annotations

from checks.evaluate import Evaluator
from checks.plan import PARENT, children, plan, template


def test_plan_evaluates_and_renders_each_parent_once(monkeypatch):
    """The parent once for `before` and once for `after`; each nested stack it creates once a side."""
    import checks.plan
    import checks.render
    from checks.render import Renderer as Real
    rendered = []

    class Counting(Real):
        def render(self):
            rendered.append(self.template)
            return super().render()
    monkeypatch.setattr(checks.plan, "Renderer", Counting)
    monkeypatch.setattr(checks.render, "Renderer", Counting)
    evaluated = []
    monkeypatch.setattr(checks.plan, "Evaluator", lambda *args: evaluated.append(args[0]) or Evaluator(*args))
    plan({}, {"Ingress": "LoadBalancer"})
    created = [location for stack, location in children(PARENT).items() if stack != "BudgetStack"]  # no MonthlyBudget
    assert sorted(map(id, rendered)) == sorted(id(template(name)) for name in [PARENT, *created] * 2)
    assert [t is template(PARENT) for t in evaluated] == [True, True]
