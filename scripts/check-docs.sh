#!/usr/bin/env bash
# Check the project's documents the way code is checked: fast, no network,
# fails the run.  Written after a change request was pasted into
# proto/PROTOCOL.md (a stray heading, "## A. README.md: ...", separator
# lines): each check below would have caught it.
#
#   * fences: every ``` block is closed;
#   * headings: one "# " title per file; no stray backtick; no heading
#     names another document (a README, a .md file: a change request meant
#     for it, pasted here); in a document with numbered sections (## 1.,
#     ### 1.1), a spec, no heading names a file at all, and every ## and
#     ### heading is numbered, in order, each ### under its own section;
#   * no separator lines (---, ***, ___) between sections;
#   * every relative link points to a file or directory that exists;
#   * every "section N.M" in a numbered document, and every
#     "PROTOCOL.md N.M" / "PROTOCOL.md section N" in the tree's files,
#     names a section proto/PROTOCOL.md has.
# That the worked examples of PROTOCOL.md section 8 still decode is
# tests/test_wire_examples.c's job: it reads the bytes out of the document.
#
# Usage: scripts/check-docs.sh [FILE.md...]
#   default: README.md, docs/*.md and proto/PROTOCOL.md, and the section
#   references of every file git tracks.
set -euo pipefail
files=()
for arg in "$@"; do
  files+=("$(realpath -m -- "$arg")")     # named from the caller's directory
done
cd "$(dirname "$0")/.."

protocol=proto/PROTOCOL.md
tree=0
if [ ${#files[@]} -eq 0 ]; then
  tree=1
  for f in README.md docs/*.md "$protocol"; do
    if [ -f "$f" ]; then files+=("$f"); fi
  done
fi

# One pass over a markdown file.  Prints "ERR<TAB>line<TAB>message",
# "LINK<TAB>line<TAB>target" and "SECT<TAB>line<TAB>N.M" (a section the
# file has) or "REF<TAB>line<TAB>N.M" (a section it refers to).
scan() {
  awk '
    function err(msg) { printf "ERR\t%d\t%s\n", NR, msg }
    function count(s, ch,    n, i) {
      n = 0
      for (i = 1; i <= length(s); i++) if (substr(s, i, 1) == ch) n++
      return n
    }
    function heading(level, text,    num, parts, n) {
      titles += (level == 1)
      if (level == 1 && titles > 1)
        err("a second \"# \" title: a document pasted into another?")
      if (count(text, "`") % 2)
        err("stray backtick in heading: " text)
      if (text ~ /[A-Za-z0-9_-]\.md([^A-Za-z0-9]|$)/ || text ~ /README/)
        err("heading names another document: " text)
      else if (numbered && (text ~ /[A-Za-z0-9_-]\.(c|h|sh|txt|py|js|json|yml|yaml|toml|cmake|conf)([^A-Za-z0-9]|$)/ \
               || text ~ /CMakeLists|Containerfile|Dockerfile|Makefile/))
        err("heading names a file in a numbered document: " text)
      num = ""
      if (match(text, /^[0-9]+(\.[0-9]+)*\.?( |$)/)) {
        num = substr(text, 1, RLENGTH)
        sub(/ $/, "", num)
        sub(/\.$/, "", num)
      }
      if (level == 2 && num != "" && num !~ /\./)
        numbered = 1
      if (!numbered || level > 3)
        return
      n = split(num, parts, ".")
      if (level == 2) {
        if (num == "" || n != 1) { err("unnumbered section in a numbered document: " text); return }
        if (parts[1] != section + 1)
          err("section " num " after section " section ": " text)
        section = parts[1]; sub_ = 0
        printf "SECT\t%d\t%s\n", NR, num
      } else {
        if (num == "" || n != 2) { err("unnumbered subsection in a numbered document: " text); return }
        if (parts[1] != section || parts[2] != sub_ + 1)
          err("subsection " num " after " section "." sub_ ": " text)
        sub_ = parts[2]
        printf "SECT\t%d\t%s\n", NR, num
      }
    }
    /^ ? ? ?(```|~~~)/ {
      if (!fence) { fence = NR } else { fence = 0 }
      next
    }
    fence { next }
    /^ ? ? ?(- *- *-[- ]*|\* *\* *\*[* ]*|_ *_ *_[_ ]*|===+) *$/ {
      err("separator line between sections: a document pasted in?")
      next
    }
    /^#+ / {
      match($0, /^#+/)
      text = substr($0, RLENGTH + 2)
      sub(/ +#* *$/, "", text)
      heading(RLENGTH, text)
    }
    {
      line = $0
      gsub(/`[^`]*`/, "", line)            # inline code is not a link
      while (match(line, /\]\([^) ]+/)) {
        printf "LINK\t%d\t%s\n", NR, substr(line, RSTART + 2, RLENGTH - 2)
        line = substr(line, RSTART + RLENGTH)
      }
      if (match(line, /^\[[^]]+\]: +[^ ]+/)) {
        target = substr(line, RSTART, RLENGTH)
        sub(/^\[[^]]+\]: +/, "", target)
        printf "LINK\t%d\t%s\n", NR, target
      }
      line = $0
      while (match(line, /[Ss]ections? [0-9]+(\.[0-9]+)*/)) {
        ref = substr(line, RSTART, RLENGTH)
        sub(/^[Ss]ections? /, "", ref)
        printf "REF\t%d\t%s\n", NR, ref
        line = substr(line, RSTART + RLENGTH)
      }
    }
    END {
      if (fence) { NR = fence; err("code fence opened here is never closed") }
    }
  ' "$1"
}

errors=0
fail() {
  echo "check-docs: $1" >&2
  errors=$((errors + 1))
}

links=0
refs=0
protocol_sections=""
for f in "${files[@]}"; do
  if [ ! -f "$f" ]; then
    fail "$f: no such file"
    continue
  fi
  out=$(scan "$f")
  dir=$(dirname "$f")
  sections=$(printf '%s\n' "$out" | awk -F'\t' '$1 == "SECT" { print $3 }')
  if [ "$f" = "$protocol" ]; then protocol_sections=$sections; fi
  while IFS=$'\t' read -r kind line what; do
    case $kind in
      ERR) fail "$f:$line: $what" ;;
      LINK)
        case $what in
          *:*|\#*) continue ;;             # a URL (http:, mailto:) or an anchor here
        esac
        links=$((links + 1))
        target=${what%%#*}
        target=${target%%\?*}
        case $target in
          /*) path=.$target ;;              # GitHub: relative to the repository
          *) path=$dir/$target ;;
        esac
        [ -e "$path" ] || fail "$f:$line: link to $what: no $path"
        ;;
      REF)
        # Only a document with numbered sections refers to its own.
        [ -n "$sections" ] || continue
        refs=$((refs + 1))
        grep -qxF "$what" <<<"$sections" || fail "$f:$line: section $what: no such section"
        ;;
    esac
  done <<<"$out"
done

# The code's pointers into the protocol ("PROTOCOL.md 3.1").
if [ $tree -eq 1 ] && [ -n "$protocol_sections" ]; then
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t tracked < <(git ls-files)
  else
    mapfile -t tracked < <(find . -path ./build\* -prune -o -type f -print | sed 's|^\./||')
  fi
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    where=${hit%%:PROTOCOL*}
    ref=$(sed -E 's/.*PROTOCOL\.md[,:]? (sections? )?//' <<<"${hit#"$where":}")
    refs=$((refs + 1))
    grep -qxF "$ref" <<<"$protocol_sections" \
      || fail "$where: PROTOCOL.md $ref: no such section in $protocol"
  done < <(grep -nIoE 'PROTOCOL\.md[,:]? (sections? )?[0-9]+(\.[0-9]+)*' -- "${tracked[@]}" 2>/dev/null || true)
fi

if [ $errors -gt 0 ]; then
  echo "check-docs: $errors problems" >&2
  exit 1
fi
echo "check-docs: ${#files[@]} documents, $links relative links, $refs section references: ok"
