"""Executed notebooks as HTML pages (scripts/run_notebooks.py's exports) that stand alone and that every reader can use.

nbconvert's lab template, changed in three ways:

- figures keep the text alternative their output carries (``metadata["image/png"]["alt"]``, set
  by ``helpers.notebook.plots.show_figure``) as ``<img alt=...>``; the lab template drops it;
- mathematics is turned into MathML when the page is written (``latex2mathml``), which browsers
  render without a script and screen readers read, instead of loading MathJax from a CDN; each
  formula keeps its TeX source in ``alttext``;
- no script is loaded from elsewhere (require.js, MathJax, Mermaid): the page works offline.
"""
from __future__ import annotations

import copy
import html
import re

from latex2mathml.converter import convert

TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">{{ resources.accessible_css }}</style>
{%- endblock extra_css -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
{%- set alttext = (output | get_metadata('alt', 'image/png')) or (cell | get_metadata('alt')) -%}
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- if alttext %} alt="{{ alttext | escape_html }}"{% endif %}
{%- if output | get_metadata('needs_background', 'image/png') == 'light' %} class="jp-needs-light-background"{% endif %}>
</div>
{%- endblock data_png %}
"""

# Text at least 4.5 times as bright as its background (WCAG 2.1 AA 1.4.3), on the code cells' #f5f5f5
# too: the prompts' and pygments' default colours (#b0b0b0 prompts, #408080 comments, ...) are lighter.
TOKENS = {"#3d6565; font-style: italic": "c c1 cm ch cs cp cpf", "#006300; font-weight: bold": "k kc kd kn kp kr",
          "#8b0000": "kt ne", "#555555": "o p", "#7a1fa2": "ow nd", "#005c00": "m mi mf mh mo mb il nb bp",
          "#a31515": "s s1 s2 sa sb sc sd sh sx sr ss", "#8a4000": "se si", "#0000b0": "nf fm nc nn",
          "#19177c": "nv vc vg vi vm", "#5c5c5c": "gp go"}
ACCESSIBLE_CSS = ("\n".join(f".jp-Notebook .highlight .{token} {{ color: {style.split(';')[0]} !important;"
                            f"{style.split(';', 1)[1] + ';' if ';' in style else ''} }}"
                            for style, tokens in TOKENS.items() for token in tokens.split())
                  + "\n.jp-InputPrompt, .jp-OutputPrompt { color: #595959 !important; opacity: 1 !important; }"
                  "\n.jp-RenderedHTMLCommon a:link, .jp-RenderedHTMLCommon a:visited { text-decoration: underline !important; }\n")  # links not told by colour alone

# Code (fenced blocks, then inline spans) is left alone; math is $$...$$ (display) or $...$ (inline).
CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.DOTALL)
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)((?:[^$\n]|\n(?!\n))+?)(?<![\s\\])\$", re.DOTALL)


def mathml(tex: str, display: bool) -> str:
    """One formula as MathML on a single line, its TeX source kept in ``alttext``."""
    try:
        markup = convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # a command latex2mathml does not know: the TeX itself, readable, rather than no page
        return f"<code>{html.escape(tex.strip())}</code>"
    return markup.replace("<math ", f'<math alttext="{html.escape(tex.strip())}" ', 1).replace("\n", "")


def markdown_math_to_mathml(source: str) -> str:
    """Markdown with every ``$...$`` and ``$$...$$`` outside code replaced by MathML."""
    parts = CODE.split(source)
    for index in range(0, len(parts), 2):  # the even parts lie outside code
        parts[index] = MATH.sub(lambda m: mathml(m.group(1) or m.group(2), m.group(1) is not None), parts[index])
    return "".join(parts)


def exporter():
    """An nbconvert HTMLExporter with the template above."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", template_file="accessible.html.j2",
                        extra_loaders=[DictLoader({"accessible.html.j2": TEMPLATE})])


def export_html(nb) -> str:
    """The HTML page of notebook ``nb`` (not changed: its Markdown math is converted in a copy)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_math_to_mathml(cell.source)
    page, _ = exporter().from_notebook_node(nb, resources={"accessible_css": ACCESSIBLE_CSS})
    return page
