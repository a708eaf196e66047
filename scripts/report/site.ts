/**
 * What every page of the living-documentation site shares: escaping, Markdown prose, the style
 * sheet, the navigation bar and the page frame. Pages are static HTML with no external resource
 * (no CDN, no font, no image), so the site works from a copied folder without a network.
 */
import MarkdownIt from 'markdown-it'

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Raw HTML in a description is shown as text: the features are prose, not markup. */
const md = new MarkdownIt({ html: false, linkify: false, typographer: false })

export function markdown(text: string): string {
  return text.trim() === '' ? '' : `<div class="prose">${md.render(text)}</div>`
}

/** Gherkin text with <placeholders> kept and marked. */
export function withPlaceholders(text: string): string {
  return escapeHtml(text).replace(/&lt;([^&<>]+)&gt;/g, '<var>&lt;$1&gt;</var>')
}

export const INDEX = 'index.html'
export const HISTORY = 'kernel-history.html'
export const CHANGES = 'changes.html'

export function fixturePage(name: string): string {
  return `fixture-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.html`
}

/** The profile columns, in kernel order, with the cucumber report of each. */
export interface SiteProfile {
  readonly name: string
  readonly title: string
  /** cucumber's own HTML report of this profile (relative link). */
  readonly cucumber?: string
}

export const STYLE = `
:root { --pass: #dff3e3; --fail: #f8d7da; --none: #8e8e93; --line: #c8c8cc; --head: #f2f2f5; --accent: #0b57d0; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1d1d1f; font-size: 15px; line-height: 1.45; }
header.top { position: sticky; top: 0; z-index: 2; background: #1d1d1f; color: #fff; padding: .45rem 1.5rem; font-size: .9rem; }
header.top a { color: #fff; margin-right: 1.2rem; text-decoration: none; }
header.top a:hover, header.top a[aria-current] { text-decoration: underline; }
header.top .brand { font-weight: 600; margin-right: 2rem; }
main { padding: .5rem 1.5rem 3rem; max-width: 96rem; }
h1 { font-size: 1.5rem; margin: .8rem 0 .3rem; } h2 { font-size: 1.15rem; margin: 1.8rem 0 .4rem; } h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
a { color: var(--accent); }
.meta { color: #48484a; font-size: .85rem; margin: 0 0 .6rem; }
.prose { max-width: 52rem; } .prose p { margin: .4rem 0; } .prose code { background: #f2f2f5; padding: 0 .2rem; border-radius: 3px; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .4rem 0 .8rem; font-size: .85rem; }
th, td { border: 1px solid var(--line); padding: .2rem .45rem; text-align: left; vertical-align: top; }
thead th { background: var(--head); }
th.profile, td.result { text-align: center; white-space: nowrap; }
table.examples th.profile, table.results th.profile { min-width: 3.2rem; }
td.pass { background: var(--pass); } td.fail { background: var(--fail); font-weight: 600; } td.none { color: var(--none); }
td.result a { color: inherit; text-decoration: none; } td.result a:hover { text-decoration: underline; }
tr:target, section:target > h2 { outline: 3px solid #f5c518; }
section.scenario { border-top: 1px solid #e5e5ea; margin-top: 1.4rem; }
section.scenario h2 .num { color: var(--accent); text-decoration: none; margin-right: .3rem; }
var { font-style: normal; color: #8a3ffc; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .92em; }
.tags { font-size: .8rem; color: #48484a; margin: .1rem 0 .3rem; } .tag { background: #eef; border-radius: 3px; padding: 0 .3rem; margin-right: .3rem; }
ol.steps { list-style: none; padding-left: 0; margin: .4rem 0 .6rem; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; }
ol.steps li { margin: .1rem 0; } ol.steps .kw { color: #b3261e; font-weight: 600; margin-right: .4rem; }
ol.steps table { margin: .2rem 0 .2rem 2rem; }
.comment { color: #3a7d44; font-style: italic; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; margin: .2rem 0; white-space: pre-wrap; }
.comment.history { color: #6b4fbb; }
pre.doc { background: #f6f6f8; padding: .4rem; margin: .2rem 0 .2rem 2rem; }
.failure { background: #fff4f4; border-left: 4px solid #b3261e; padding: .3rem .6rem; margin: .3rem 0; font-size: .85rem; }
.failure pre { white-space: pre-wrap; margin: .2rem 0; font-size: .8rem; }
.failure .ea { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
tr.failure-row td { background: #fff4f4; font-weight: normal; text-align: left; }
table.history td.changed { box-shadow: inset 4px 0 0 #f5a623; }
table.history.only-changes tbody tr:not(.changes):not(.group) { display: none; }
table.history tr.group th { background: #e8e8ed; font-size: .9rem; }
table.history th.question, table.diff th.question { font-weight: normal; min-width: 16rem; max-width: 28rem; }
table.history td.result, table.diff td.result { white-space: normal; overflow-wrap: anywhere; min-width: 7rem; max-width: 15rem; }
.comment.history a { color: inherit; text-decoration: none; } .comment.history a:hover { text-decoration: underline; }
#matrix th.vertical { writing-mode: vertical-rl; transform: rotate(180deg); padding: .4rem .1rem; font-weight: 600; font-size: .8rem; }
#matrix td.result { min-width: 2.4rem; } #matrix th.fixture { white-space: nowrap; }
#matrix th.area { text-align: center; }
.toc { list-style: none; columns: 2 28rem; font-size: .85rem; margin: .3rem 0 1rem; padding-left: 1.2rem; }
.legend { font-size: .8rem; color: #48484a; }
form.pick { margin: .6rem 0; } form.pick select { font-size: .95rem; margin: 0 .4rem; }
.js section.diff { display: none; } .js section.diff.shown { display: block; }
`

/** The bar at the top of every page: back to the index, the history pages, and any extra links. */
export function navBar(current: string, extra: readonly { href: string; text: string }[] = []): string {
  const link = (href: string, text: string): string => `<a href="${escapeHtml(href)}"${href === current ? ' aria-current="page"' : ''}>${escapeHtml(text)}</a>`
  const more = extra.map((e) => link(e.href, e.text))
  return `<header class="top"><a class="brand" href="${INDEX}">smmu-nesting-tck</a>${link(INDEX, 'Index')}${link(HISTORY, 'Kernel history')}${link(CHANGES, 'What changed')}${more.join('')}</header>`
}

export function page(title: string, nav: string, body: string, script = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${nav}
<main>
${body}
</main>${script === '' ? '' : `\n<script>${script}</script>`}
</body>
</html>
`
}

/**
 * cucumber's own report of a profile, with a bar linking back to the site put at the top of its
 * body (the report itself is cucumber's: its scripts and styles are left as they are).
 */
export function withLinkBack(cucumberHtml: string, profile: string): string {
  const style = 'font: 14px system-ui, sans-serif; background: #1d1d1f; color: #fff; padding: .45rem 1.5rem'
  const a = 'color: #fff; margin-right: 1.2rem'
  const bar = `<nav id="tck-link-back" style="${style}"><a style="${a}" href="${INDEX}">← smmu-nesting-tck index</a><a style="${a}" href="${HISTORY}">Kernel history</a>cucumber's report of behaviour profile ${escapeHtml(profile)}</nav>`
  return cucumberHtml.replace(/<body>/, `<body>\n${bar}`)
}

export function tagList(tags: readonly string[]): string {
  return tags.length === 0 ? '' : `<p class="tags">${tags.map((t) => `<span class="tag">${escapeHtml(t)}</span>`).join('')}</p>`
}
