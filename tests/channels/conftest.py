import pytest
from django.template.backends.django import Template


@pytest.fixture
def template_renders(monkeypatch):
    """One item per template rendered."""
    calls = []
    original = Template.render
    monkeypatch.setattr(
        Template, "render", lambda self, *args, **kw: calls.append(1) or original(self, *args, **kw)
    )
    return calls
