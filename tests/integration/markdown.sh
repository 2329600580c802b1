# Markdown through the whole pipeline (libcmark-gfm): every heading form gives
# the chunks' heading paths, '#' lines in code are no headings, a GFM table is
# searchable row by row, HTML blocks give their text without tags, and YAML
# front matter gives the title and metadata, not body text.
. "$(dirname "$0")/lib.sh"
c=$T/corpus; mkdir -p $c
cat > $c/guide.md <<'MD'
---
title: "Field Guide"
author: Ann Example
version: 2.1
tags: [birds, 'coastal walks']
---
Birds of the Coast
==================

Intro paragraph about the shoreline, the dunes, the salt marsh and the
birds that come to them through the year, both residents and visitors.

Waders
------

### Oystercatcher ###

The oystercatcher probes mudflats with a bright orange bill, and it
feeds in noisy groups along the tide line in every season of the year.

```sh
# ringing station log, not a heading
count --species oystercatcher
```

| Species | Nest |
|---------|------|
| plover  | shingle scrape |

<div class="aside"><p>Seen <b>mostly</b> in &quot;winter&quot; months.</p></div>

## Gulls

#### Kittiwake

The kittiwake nests on sheer cliff ledges, and it spends the winter
far out at sea, away from every coast and harbour we know.
MD
rag ingest --acl staff --chunk-tokens 24 --overlap-tokens 0 $c >/dev/null; rc=$?
check_eq "ingest status" $rc 0
id=$(sql "select id from documents where uri like '%guide.md'")
js=$(rag docs show "$id" --json)
check_eq "title from front matter" "$(printf '%s' "$js" | json_get '$.title')" "Field Guide"
check_eq "metadata author" "$(printf '%s' "$js" | json_get '$.metadata.author')" "Ann Example"
check_eq "metadata version" "$(printf '%s' "$js" | json_get '$.metadata.version')" "2.1"
check_eq "metadata tags" "$(printf '%s' "$js" | json_get '$.metadata.tags[1]')" "coastal walks"
check_eq "metadata type" "$(printf '%s' "$js" | json_get '$.metadata.type')" "markdown"
chunks=$(printf '%s' "$js" | json_get '$.chunk_list')
check_not_contains "front matter not in the text" "$chunks" "Ann Example"
check_not_contains "no tags in the text" "$chunks" "<b>"
check_contains "HTML block text" "$chunks" 'Seen mostly in \"winter\" months.'
check_contains "table as rows" "$chunks" "Species | Nest\\nplover | shingle scrape"
out=$(rag search --json oystercatcher mudflats)
check_contains "setext and ATX levels in the heading path" "$out" \
  "Birds of the Coast › Waders › Oystercatcher"
out=$(rag search --json kittiwake cliff ledges)
check_contains "a level-2 heading closes the level-3 one" "$out" "Birds of the Coast › Gulls › Kittiwake"
check_not_contains "code comment is no heading" "$(sql "select group_concat(heading_path) from chunks")" "ringing station"
out=$(rag search --json ringing station)
check_contains "code is searchable, under its heading" "$(printf '%s' "$out" | json_get '$.results[0].heading_path')" "Oystercatcher"
check_eq "code kept verbatim, '#' included" "$(sql "select count(*) from chunks where text like '%# ringing station log, not a heading' || char(10) || 'count --species%'")" 1
finish
