/** Served as /static/style.css: the pages carry no inline style (the CSP forbids it). */
export const STYLE_SHEET = `
:root { font-family: system-ui, sans-serif; color: #111827; background: #ffffff; }
body { margin: 0; }
header { display: flex; gap: 1.5rem; align-items: center; padding: 0.6rem 1.2rem; background: #1f2937; color: #f9fafb; }
header a { color: #f9fafb; text-decoration: none; margin-right: 0.8rem; }
header .brand { font-weight: bold; font-size: 1.1rem; }
header form { margin-left: auto; }
header input { width: 16rem; padding: 0.25rem; }
main { padding: 0.5rem 1.2rem 2rem; }
h1 { font-size: 1.3rem; }
h2 { font-size: 1.1rem; margin-top: 1.6rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
abbr { text-decoration: none; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
th a { color: inherit; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.cidr { white-space: pre; }
.mono, td.cidr { font-family: ui-monospace, Menlo, Consolas, monospace; }
.muted { color: #6b7280; }
.tags { list-style: none; margin: 0; padding: 0; }
.tag-key { color: #374151; font-weight: 600; }
.bar-free { fill: #dbeafe; }
.bar-used.low { fill: #16a34a; } .bar-used.mid { fill: #ca8a04; } .bar-used.high { fill: #dc2626; }
.bar-held { fill: #a855f7; }
.pager a { margin-right: 1rem; }
dl.fields { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dl.fields dt { color: #6b7280; }
dl.fields dd { margin: 0; }
.map { max-width: 100%; height: auto; border: 1px solid #e5e7eb; }
.map text { font-family: ui-monospace, Menlo, Consolas, monospace; fill: #111827; font-size: 11px; }
.map .title { font-size: 16px; font-weight: bold; }
.map a rect:hover { stroke: #111827; stroke-width: 2; }
.error { border-left: 4px solid #dc2626; padding: 0.4rem 1rem; background: #fef2f2; }
form.filters { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: end; margin-bottom: 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: 0.8rem; color: #374151; }
`;
