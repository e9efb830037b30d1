"""The words a model reads to choose a kb tool, in Japanese and English.

Kept apart from the server so they can be reviewed as prose: each says what the tool is
for, when to prefer it over the others, and what to cite, because an assistant picks
tools by these texts alone.
"""

INSTRUCTIONS = """\
kb: 久留米市・熊本市などの自治体計画（総合戦略・総合計画・連携中枢都市圏ビジョン）の検索エンジンです。
計画の施策・目標・KPIについて答えるときは、記憶ではなく必ずこれらのツールで原文を探し、各主張の後に
結果の `citation`（計画名と doc:開始行-終了行）を付けてください。
kb searches Japanese municipal policy plans (Kurume 久留米市, Kumamoto 熊本市, the Kurume wide area 広域).
Answer questions about their measures, goals and KPIs from these tools, not from memory, and put each hit's
`citation` (plan and doc:start-end lines) after the claim it supports. Typical flow: search → show (read the
section) → compare or kpi when the question is about differences or numbers. Read-only."""

SEARCH = """\
計画の中から、質問に答える施策・目標・KPI・本文を探します（日本語・英語どちらの質問でも可）。
例: 「若い女性の転出を抑える施策は？」「子育て支援」。city で市（久留米市/熊本市/広域）、doc で計画、
kind で種類（measure 施策 / goal 目標 / kpi 指標 / paragraph 本文）に絞れます。
Find the passages of the plans that answer a question (Japanese or English): measures, goals, KPI tables,
paragraphs, best first. Use this first for any question about what the cities plan or do. Each hit has its
plan, heading path (`section`), exact lines, text, KPIs and a ready `citation`. `no_clear_match: true` means
no word of the question occurs in the plans: the hits are only the nearest passages, say so rather than
presenting them as an answer."""

SHOW = """\
検索結果の行番号（doc と line）から、その節の原文を行番号付きで表示します。引用前の確認に使います。
Read the source section around one line of a plan, with line numbers (the line asked for is marked `>`).
Use it to read a hit in full context before quoting it, or to open an address such as
`kurume-sousei-senryaku-3:476` from a citation or a plan outline."""

COMPARE = """\
あるテーマについて二つの市（既定: 久留米市 と 熊本市）または計画の施策を比較します。対応する施策の組
（rows: 強い対応 strong / 部分的 partial）と、片方にしかない施策（only_left / only_right）、各施策のKPIを返します。
Compare how two sides tackle one topic (default Kurume 久留米市 vs Kumamoto 熊本市; a side can be a city, its
alias kurume/kumamoto/kouiki, or a plan's doc id). Returns matched measure pairs (`rows`, each with
`counterparts` and a strength), the measures only one side has (`only_left`, `only_right`) and their KPIs.
Prefer this over two searches when the question asks for differences, similarities or 比較."""

KPI = """\
計画のKPI・数値目標（基準値→目標値、年度、出典行）を構造化して返します。query で関連するKPIを優先します。
List the plans' KPIs and numeric targets as records (name, baseline → target with years, unit, source
lines, citation). With `query` the KPIs named like it come first, then those of the measures search finds
for it. Use this for "what is the target / 目標値は / how is it measured" questions."""

LIST_PLANS = """\
検索対象の計画の一覧（doc, 計画名, 市, 種類, 期間）を返します。doc や city の値が分からないときに使います。
List the plans in the index with doc id, title (Japanese and English), city, area, kind and period.
Use it to find the `doc` or `city` values the other tools take; each plan's outline is the resource
`kb://plan/{doc}`."""

MENTIONS = """\
語（例: 空き家、文化財、男女共同参画）を含む記述を、計画と節ごとに、すべて行番号付きで返します（上位だけではありません）。
表記ゆれは Sudachi の正規化で同一視します（子ども/子供/こども、空家/空き家）。synonyms で同義語も含め、
複数の語は「いずれか」、all_terms=true で「すべて」を含む記述です。
Every passage that mentions a term, grouped by plan and section, with the exact lines and a one-line excerpt
of each mention, and counts per plan (`plans`). Use it instead of search when the question asks for *all*
mentions, a list or a count (「すべて」「洗い出し」「何か所」); spelling variants are matched through Sudachi's
normalised forms. Several terms match any of them (`all_terms`: every one)."""

OUTLINE = """\
計画の構成（見出しの階層と開始行）。 The outline of one plan: its headings, nested, each with the line it
starts at (open one with the show tool)."""

# Parameter descriptions.
QUERY = "質問またはキーワード / question or keywords (Japanese or English), at most 1000 characters"
CITY = "市で絞る / only this city: 久留米市, 熊本市, 広域 (or kurume, kumamoto, kouiki)"
DOC = "計画で絞る / only this plan: its doc id from list_plans, e.g. kurume-sousei-senryaku-3"
KIND = "種類で絞る / only this kind: measure 施策, goal 目標, kpi 指標, paragraph 本文"
K = "件数 / number of hits (1-50)"
SHOW_DOC = "計画の doc id / the plan's doc id, e.g. kumamoto-sousei-senryaku-2"
LINE = "行番号 (1から) / 1-based line number, e.g. a hit's line_start"
CONTEXT = "前後に加える行数 / extra lines before and after the section (0-50)"
TOPIC = "比較するテーマ / the topic, e.g. 若い女性の転出, 子育て支援, tourism"
LEFT = "左側 / left side: a city (久留米市, kurume, 熊本市, kouiki) or a doc id; default 久留米市"
RIGHT = "右側 / right side, as left; default 熊本市"
COMPARE_K = "各側の施策数 / measures per side (1-30)"
KPI_QUERY = "このテーマのKPIを優先 / put the KPIs about this first (optional)"
TERMS = "探す語（1つ以上）/ the words to find, e.g. [\"空き家\"] or [\"文化財\", \"歴史\"]"
SYNONYMS = "Sudachi の同義語も探す / also find the forms of each word's synonym group (listed in the answer)"
REQUIRE_ALL = "すべての語を含む記述だけ / only passages that mention every term (default: any of them)"
