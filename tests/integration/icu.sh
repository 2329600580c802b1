# Scripts written without spaces between words: Thai, Lao, Khmer and Burmese
# words are found inside a run by ICU's word break iterator; Japanese and
# Chinese words by character bigrams (store/fts_tokenizer.c). Each query is
# a word inside a run of the document it must find first, among documents
# of the same language.
. "$(dirname "$0")/lib.sh"
mkdir -p $T/c
cat > $T/c/th1.txt <<'EOF2'
ห้องสมุดประชาชน

ห้องสมุดแห่งนี้มีหนังสือมากมายสำหรับนักเรียน ผู้คนในเมืองมาอ่านหนังสือทุกวัน เจ้าหน้าที่ช่วยค้นหาข้อมูลได้รวดเร็ว
EOF2
cat > $T/c/th2.txt <<'EOF2'
อาหารไทย

อาหารไทยมีรสชาติเผ็ดและหวาน ต้มยำกุ้งเป็นอาหารที่มีชื่อเสียงไปทั่วโลก ร้านอาหารริมถนนขายข้าวผัดราคาถูก
EOF2
cat > $T/c/ja1.txt <<'EOF2'
会社案内

東京都の本社では機械学習モデルを開発しています。大阪支店は営業を担当します。社員は三百人です。
EOF2
cat > $T/c/ja2.txt <<'EOF2'
旅行の記録

京都の寺を訪ねました。紅葉がとても美しかったです。次は北海道へ行きたいと思います。
EOF2
cat > $T/c/zh1.txt <<'EOF2'
检索系统

我们使用向量数据库进行语义检索。关键词索引补充了向量搜索。系统每天处理大量查询。
EOF2
cat > $T/c/zh2.txt <<'EOF2'
天气预报

明天北京有大雨，气温会下降。周末上海天气晴朗，适合出门散步。
EOF2
cat > $T/c/lo.txt <<'EOF2'
ພາສາລາວ

ພາສາລາວບໍ່ມີຍະຫວ່າງລະຫວ່າງຄໍາ
EOF2
cat > $T/c/en.txt <<'EOF2'
Notes

The library lends books to students. Food stalls sell fried rice.
EOF2
out=$(rag ingest $T/c); rc=$?
check_eq "ingest exit status" $rc 0
first() { rag search --json "$1" | json_get '$.results[0].title'; }
n_results() { rag search --json "$1" | json_len '$.results'; }
check_eq "Thai: หนังสือ (books) inside a run" "$(first หนังสือ)" "ห้องสมุดประชาชน"
check_eq "Thai: ข้อมูล (information)" "$(first ข้อมูล)" "ห้องสมุดประชาชน"
check_eq "Thai: ต้มยำกุ้ง inside a run" "$(first ต้มยำกุ้ง)" "อาหารไทย"
check_eq "Thai: ข้าวผัด (fried rice), two words" "$(first ข้าวผัด)" "อาหารไทย"
check_eq "Thai: only the document holding the words" "$(n_results มีชื่อเสียง)" 1
check_eq "Lao: ລາວ inside a run" "$(first ລາວ)" "ພາສາລາວ"
check_eq "Japanese: 機械学習 inside a run" "$(first 機械学習)" "会社案内"
check_eq "Japanese: 紅葉" "$(first 紅葉)" "旅行の記録"
check_eq "Japanese: 北海道" "$(first 北海道)" "旅行の記録"
check_eq "Chinese: 数据库 inside a run" "$(first 数据库)" "检索系统"
check_eq "Chinese: 上海" "$(first 上海)" "天气预报"
check_eq "Chinese: 气温" "$(first 气温)" "天气预报"
check_eq "English unchanged: books" "$(first books)" "Notes"
snip=$(rag search --json ห้องสมุด | json_get '$.results[0].snippet')
check_contains "Thai: the highlight marks the word" "$snip" "**ห้องสมุด**"
out=$(rag ask "ต้มยำกุ้ง")
check_contains "ask quotes the Thai sentence (a space ends it)" "$out" "ต้มยำกุ้งเป็นอาหารที่มีชื่อเสียงไปทั่วโลก [1]"
check_not_contains "...and not the next one" "$out" "ต้มยำกุ้งเป็นอาหารที่มีชื่อเสียงไปทั่วโลก ร้าน"
finish
