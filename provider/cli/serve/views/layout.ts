import { html, type Html } from "./html.js";

/** The frame of every page: a header with the search box (a GET form: no script) and the content. */
export function page(title: string, content: Html, options: { search?: string } = {}): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ipam</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header>
  <a class="brand" href="/">ipam</a>
  <nav><a href="/">Subnets</a> <a href="/fullest">Fullest</a> <a href="/history">History</a> <a href="/metrics">Metrics</a></nav>
  <form class="search" action="/search" method="get" role="search">
    <input type="search" name="q" placeholder="address or CIDR" aria-label="address or CIDR" value="${options.search ?? ""}">
    <button type="submit">Search</button>
  </form>
</header>
<main>
<h1>${title}</h1>
${content}
</main>
</body>
</html>`;
}
