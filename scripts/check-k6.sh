#!/usr/bin/env bash
# check-k6.sh checks every loadtest/k6/*.js without running k6: node must
# parse it as an ES module, and every server path it names in a string or
# template literal (/api/..., /healthz, /readyz, /metrics, /board..., /staff...)
# must be a route of the server, as printed by `go run ./cmd/queueless routes`
# ("METHOD /path/:param" per line). A ${...} segment matches a :param segment;
# a path ending in "/" (a prefix that code concatenates onto) matches any
# route under it.
#
# Usage: scripts/check-k6.sh [-v]   (-v lists each path with its route)
# K6_ROUTES_FILE=FILE reads the routes from FILE instead of the server.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

verbose=0
if [ "${1:-}" = "-v" ]; then
	verbose=1
fi

die() {
	printf 'check-k6: %s\n' "$*" >&2
	exit 1
}

shopt -s nullglob
scripts=(loadtest/k6/*.js)
shopt -u nullglob
if [ ${#scripts[@]} -eq 0 ]; then
	echo "check-k6: no loadtest/k6/*.js scripts; nothing to check"
	exit 0
fi
command -v node >/dev/null 2>&1 || die "node is not installed (apt-get install nodejs)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Syntax. k6 scripts are ES modules; a .mjs copy makes every node version
# parse them as such. --check parses only: k6/* imports need not resolve.
failed=0
for f in "${scripts[@]}"; do
	copy="$tmp/$(basename "$f" .js).mjs"
	cp "$f" "$copy"
	if ! node --check "$copy" 2>"$tmp/syntax.err"; then
		sed "s|$copy|$f|g" "$tmp/syntax.err" >&2
		failed=1
	fi
done
if [ "$failed" -ne 0 ]; then
	die "syntax errors above"
fi
echo "check-k6: ${#scripts[@]} script(s) parse as ES modules"

# 2. Paths against routes.
routes_source="\`go run ./cmd/queueless routes\`"
if [ -n "${K6_ROUTES_FILE:-}" ]; then
	routes_source=$K6_ROUTES_FILE
	cp "$K6_ROUTES_FILE" "$tmp/routes"
elif ! go run ./cmd/queueless routes >"$tmp/routes" 2>"$tmp/routes.err"; then
	cat "$tmp/routes.err" >&2
	die "\`go run ./cmd/queueless routes\` failed"
fi

cat >"$tmp/paths.mjs" <<'EOF'
// Finds server paths in the string and template literals of k6 scripts and
// matches them against Echo routes. A small lexer rather than a regular
// expression over the file, so that comments and regex literals are skipped
// and template placeholders are seen for what they are.
import { readFileSync } from 'node:fs';

const PARAM = '\u0000'; // stands for one ${...} of a template literal
const PREFIXES = ['/api', '/healthz', '/readyz', '/metrics', '/board', '/staff'];
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new',
  'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const ESCAPES = { n: ' ', r: ' ', t: ' ', v: ' ', f: ' ', b: ' ', '\n': '' };

// literals returns {text, line} for every string and template literal.
function literals(src) {
  const found = [];
  let i = 0;
  let line = 1;
  let prev = ''; // last token outside literals: tells a regex from a division

  const regexAllowed = () => {
    if (prev === '') return true;
    if (/^[\w$]/.test(prev)) return REGEX_AFTER_WORD.has(prev);
    return !')]}'.includes(prev);
  };
  const escaped = () => {
    const c = src[i + 1] ?? '';
    if (c === '\n') line++;
    i += 2;
    return c in ESCAPES ? ESCAPES[c] : c;
  };
  const quoted = (q) => {
    const start = line;
    let text = '';
    i++;
    while (i < src.length && src[i] !== q && src[i] !== '\n') {
      text += src[i] === '\\' ? escaped() : src[i++];
    }
    i++;
    found.push({ text, line: start });
  };
  const template = () => {
    const start = line;
    let text = '';
    i++;
    while (i < src.length && src[i] !== '`') {
      if (src[i] === '\\') {
        text += escaped();
      } else if (src[i] === '$' && src[i + 1] === '{') {
        i += 2;
        const saved = prev;
        prev = '';
        code(true);
        prev = saved;
        text += PARAM;
      } else {
        if (src[i] === '\n') line++;
        text += src[i++];
      }
    }
    i++;
    found.push({ text, line: start });
  };
  const regex = () => {
    let inClass = false;
    i++;
    while (i < src.length && src[i] !== '\n') {
      const c = src[i];
      if (c === '\\') { i += 2; continue; }
      i++;
      if (inClass) { if (c === ']') inClass = false; } else if (c === '[') inClass = true; else if (c === '/') break;
    }
    while (i < src.length && /[a-z]/i.test(src[i])) i++;
  };
  // code scans code up to the end, or past the "}" closing a placeholder.
  const code = (inPlaceholder) => {
    let depth = 0;
    while (i < src.length) {
      const c = src[i];
      if (c === '\n') { line++; i++; continue; }
      if (/\s/.test(c)) { i++; continue; }
      if (c === '/' && src[i + 1] === '/') {
        while (i < src.length && src[i] !== '\n') i++;
        continue;
      }
      if (c === '/' && src[i + 1] === '*') {
        const end = src.indexOf('*/', i + 2);
        const stop = end < 0 ? src.length : end + 2;
        for (; i < stop; i++) if (src[i] === '\n') line++;
        continue;
      }
      if (c === '"' || c === "'") { quoted(c); prev = ')'; continue; }
      if (c === '`') { template(); prev = ')'; continue; }
      if (c === '/' && regexAllowed()) { regex(); prev = ')'; continue; }
      if (/[\w$]/.test(c)) {
        let j = i;
        while (j < src.length && /[\w$]/.test(src[j])) j++;
        prev = src.slice(i, j);
        i = j;
        continue;
      }
      if (inPlaceholder && c === '{') depth++;
      if (inPlaceholder && c === '}') {
        if (depth === 0) { i++; return; }
        depth--;
      }
      prev = c;
      i++;
    }
  };
  code(false);
  return found;
}

// pathsIn returns the server paths in one literal's text: words that, past
// an optional scheme://host and leading placeholders (a base URL), start
// with one of PREFIXES. Query and fragment are dropped.
function pathsIn(text) {
  const paths = [];
  for (let word of text.split(/\s+/)) {
    word = word.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/^\u0000+/, '');
    const m = word.match(/^\/[\w\-.~:@%/*\u0000]*/);
    if (!m) continue;
    const path = m[0];
    if (PREFIXES.some((p) => path === p && p !== '/api' || path.startsWith(p + '/'))) {
      paths.push(path);
    }
  }
  return paths;
}

const segments = (p) => p.split('/').slice(1);
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function segmentMatches(seg, route) {
  if (route.startsWith(':')) return seg !== '';
  if (seg === PARAM || seg.startsWith(':')) return false;
  if (seg.includes(PARAM)) {
    const re = new RegExp('^' + seg.split(PARAM).map(escapeRe).join('.*') + '$');
    return re.test(route);
  }
  return seg === route;
}

function matches(path, route) {
  const ps = segments(path);
  const rs = segments(route);
  const prefixOnly = ps.length > 1 && ps[ps.length - 1] === '';
  for (let k = 0; k < rs.length; k++) {
    if (rs[k].startsWith('*')) return true;
    if (k >= ps.length) return false;
    if (prefixOnly && k === ps.length - 1) return true;
    if (!segmentMatches(ps[k], rs[k])) return false;
  }
  return ps.length === rs.length;
}

const [routesFile, routesSource, verbose, ...files] = process.argv.slice(2);
const routes = readFileSync(routesFile, 'utf8').split('\n')
  .map((l) => l.trim().split(/\s+/).find((f) => f.startsWith('/')))
  .filter(Boolean);
if (routes.length === 0) {
  console.error(`check-k6: ${routesSource} gave no "METHOD /path" lines`);
  process.exit(1);
}
const show = (p) => p.replaceAll(PARAM, '${…}');
let checked = 0;
const unmatched = [];
for (const file of files) {
  const seen = new Set();
  for (const { text, line } of literals(readFileSync(file, 'utf8'))) {
    for (const path of pathsIn(text)) {
      if (seen.has(path)) continue;
      seen.add(path);
      checked++;
      const route = routes.find((r) => matches(path, r));
      if (!route) unmatched.push(`${file}:${line}: ${show(path)}`);
      else if (verbose === '1') console.log(`    ${file}:${line}: ${show(path)} -> ${route}`);
    }
  }
}
if (unmatched.length > 0) {
  console.error(`check-k6: ${unmatched.length} path(s) match no server route:`);
  for (const u of unmatched) console.error('    ' + u);
  console.error(`check-k6: the ${routes.length} routes are from ${routesSource}`);
  process.exit(1);
}
console.log(`check-k6: ${checked} path(s) in ${files.length} script(s) match server routes`);
EOF

node "$tmp/paths.mjs" "$tmp/routes" "$routes_source" "$verbose" "${scripts[@]}"
