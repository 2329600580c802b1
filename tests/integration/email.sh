# Email messages (.eml, GMime): `rag ingest` stores the message as a document
# titled by its Subject, with its header block and body searchable and its
# sender, recipients, date and thread in the metadata (`rag docs show
# --json`); replies of one thread share "thread"; a file that is not a
# message is reported by name and the run goes on; prose that starts with
# "From:" stays plain text.
. "$(dirname "$0")/lib.sh"
c=$T/mail; mkdir -p $c
printf 'From: Alice Example <alice@example.com>\r\nTo: Bob <bob@example.org>, carol@example.net\r\nSubject: Lighthouse offsite\r\nDate: Fri, 01 Mar 2024 10:30:00 +0100\r\nMessage-ID: <venue-1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nThe lighthouse caf=E9 is booked for the pelican workshop.\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The html copy mentions marmalade.</p>\r\n--b--\r\n' > $c/venue.eml
printf 'From: Bob <bob@example.org>\nTo: Alice Example <alice@example.com>\nSubject: Re: Lighthouse offsite\nDate: Fri, 01 Mar 2024 12:00:00 +0000\nMessage-ID: <venue-2@example.org>\nIn-Reply-To: <venue-1@example.com>\nReferences: <venue-1@example.com>\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nR3JlYXQsIEkgd2lsbCBicmluZyB0aGUgYmlub2N1bGFycy4K\n' > $c/reply.eml
printf 'From: the desk of the editor\nThis week: why mail headers matter.\n' > $c/prose.txt

out=$(rag ingest $c 2>$T/err); rc=$?
check_eq "messages ingest ($(cat $T/err))" $rc 0
check_contains "three documents" "$out" "3 added"
check_contains "plain body searchable" "$(rag search pelican)" "Lighthouse offsite"
check_contains "charset decoded" "$(rag search pelican)" "caf"$'\xc3\xa9'
check_not_contains "html alternative not read beside the plain one" "$(rag search marmalade)" "Lighthouse"
check_contains "base64 body searchable" "$(rag search binoculars)" "Re: Lighthouse offsite"
check_contains "sender searchable (header block)" "$(rag search alice@example.com)" "Lighthouse offsite"

id1=$(sql "select id from documents where uri like '%/venue.eml'")
id2=$(sql "select id from documents where uri like '%/reply.eml'")
j1=$(rag docs show --json $id1); j2=$(rag docs show --json $id2)
check_eq "title is the Subject" "$(printf '%s' "$j1" | json_get '$.title')" "Lighthouse offsite"
check_eq "type email" "$(printf '%s' "$j1" | json_get '$.metadata.type')" "email"
check_eq "mime" "$(printf '%s' "$j1" | json_get '$.mime')" "message/rfc822"
check_eq "from" "$(printf '%s' "$j1" | json_get '$.metadata.from[0]')" "Alice Example <alice@example.com>"
check_eq "two recipients" "$(printf '%s' "$j1" | json_len '$.metadata.to')" 2
check_eq "second recipient" "$(printf '%s' "$j1" | json_get '$.metadata.to[1]')" "carol@example.net"
check_eq "date in UTC" "$(printf '%s' "$j1" | json_get '$.metadata.date')" "2024-03-01T09:30:00Z"
check_eq "message id" "$(printf '%s' "$j1" | json_get '$.metadata.message_id')" "venue-1@example.com"
check_eq "reply's in_reply_to" "$(printf '%s' "$j2" | json_get '$.metadata.in_reply_to')" "venue-1@example.com"
check_eq "thread of the first message" "$(printf '%s' "$j1" | json_get '$.metadata.thread')" "venue-1@example.com"
check_eq "the reply shares the thread" "$(printf '%s' "$j2" | json_get '$.metadata.thread')" "venue-1@example.com"
check_eq "prose starting with From: is text" \
  "$(sql "select json_extract(metadata_json, '\$.type') from documents where uri like '%/prose.txt'")" "text"

# a broken message is reported by name; the others are unchanged
printf 'this is not\nan email at all\n' > $c/broken.eml
out=$(rag ingest $c 2>$T/err); rc=$?
check_eq "exit status 3: a file failed" $rc 3
check_contains "broken message named" "$(cat $T/err)" "broken.eml"
check_contains "others unchanged" "$out" "3 unchanged"
finish
