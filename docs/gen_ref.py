"""Regenerate docs/reference/ (one page per public module, an index of functional_nn.__all__).

Run from the repository root after the public surface changes: `python docs/gen_ref.py`;
it prints the nav entries for mkdocs.yml. tests/test_docs.py fails when the pages drift.
"""
import pkgutil, importlib, functional_nn, pathlib
ref=pathlib.Path('docs/reference'); ref.mkdir(parents=True, exist_ok=True)
mods=[m.name for m in pkgutil.walk_packages(functional_nn.__path__, 'functional_nn.') if not any(p.startswith('_') for p in m.name.split('.')[1:])]
nav=[]
for name in mods:
    mod=importlib.import_module(name)
    fname=name.removeprefix('functional_nn.')+'.md'
    title=name.removeprefix('functional_nn.')
    summary=(mod.__doc__ or '').strip().splitlines()[0] if mod.__doc__ else ''
    (ref/fname).write_text(f"# `{name}`\n\n::: {name}\n")
    nav.append((title,fname,summary.replace('|','\\|')))
lines=["# API reference","","Built from the docstrings with mkdocstrings (`mkdocs build --strict`). Every name in","`functional_nn.__all__` is listed here with the page that documents it; each public","submodule has its own page.","","## `functional_nn`","","| name | documented in |","|---|---|"]
for n in functional_nn.__all__:
    obj=getattr(functional_nn,n)
    if n=='__version__':
        lines.append("| `__version__` | the package's version (see the changelog) |"); continue
    if type(obj).__name__=="module":
        lines.append(f"| [`{n}`][{obj.__name__}] | submodule |"); continue
    home = obj.__module__
    if any(part.startswith("_") for part in home.split(".")):
        home = next(m for m in mods if n in getattr(importlib.import_module(m), "__all__", ()))
    lines.append(f"| [`{n}`][{home}.{n}] | `{home}` |")
lines+=["","## Submodules","","| module | what it holds |","|---|---|"]
for title,fname,summary in nav:
    lines.append(f"| [`{title}`]({fname}) | {summary} |")
(ref/'index.md').write_text('\n'.join(lines)+'\n')
print('\n'.join(f"      - {t}: reference/{f}" for t,f,_ in nav))
