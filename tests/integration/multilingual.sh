# Languages other than English: Korean particles, Japanese and Chinese
# without spaces, accented Latin text.
. "$(dirname "$0")/lib.sh"
mkdir -p $T/c
cat > $T/c/ko.md <<'EOF2'
# 모델 안내

이 모델은 문서를 검색합니다. 모델의 크기는 작습니다.

## 설치

데이터베이스를 먼저 설치하세요.
EOF2
cat > $T/c/ja.txt <<'EOF2'
会社案内

東京都の本社では機械学習モデルを開発しています。大阪支店は営業を担当します。
EOF2
cat > $T/c/zh.txt <<'EOF2'
检索系统

我们使用向量数据库进行语义检索，并用关键词索引补充。
EOF2
cat > $T/c/fr.txt <<'EOF2'
Candidatures

Envoyez votre résumé et une lettre de motivation. Le café est offert à l'entretien.
EOF2
rag ingest $T/c >/dev/null
check_contains "Korean: 모델 finds 모델은/모델의" "$(rag search 모델)" "모델 안내"
check_contains "Korean: the highlight marks the word" "$(rag search 모델)" "**모델"
check_contains "Korean: a word with a particle matches" "$(rag search 데이터베이스)" "설치"
check_contains "Japanese: 東京 inside 東京都" "$(rag search 東京)" "会社案内"
check_contains "Japanese: katakana word" "$(rag search モデル)" "会社案内"
check_contains "Japanese: 機械学習" "$(rag search 機械学習)" "会社案内"
check_contains "Chinese: 数据库" "$(rag search 数据库)" "检索系统"
check_contains "Chinese: 检索" "$(rag search 检索)" "检索系统"
check_contains "unrelated CJK does not match" "$(rag search 北京)" "No results"
check_contains "accents: resume finds résumé" "$(rag search resume)" "Candidatures"
check_contains "accents: cafe finds café" "$(rag search CAFE)" "Candidatures"
check_contains "accents: the query may carry them too" "$(rag search résumés)" "Candidatures"
out=$(rag ask "모델의 크기")
check_contains "ask answers in Korean with a citation" "$out" "모델의 크기는 작습니다. [1]"
finish
