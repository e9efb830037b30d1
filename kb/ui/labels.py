"""Interface text: Japanese first, English alongside, in one place.

The users are Japanese city staff; English follows each label so that a visitor (or a
developer) can use the page too. Keeping every string here makes the page consistent
and lets tests check that no label lost its translation.
"""

from __future__ import annotations

import re

TITLE = "計画書検索 / Plan Search"
SUBTITLE = (
    "久留米市・熊本市の総合戦略や総合計画から、施策とその根拠となる原文を探します。"
    " / Find the measures of Kurume's and Kumamoto's policy plans, with their source text."
)
QUERY_LABEL = "質問またはキーワード / Question or keywords"
QUERY_PLACEHOLDER = "例: 若い女性の転出を防ぐ施策 / e.g. measures against young women moving away"
SEARCH_BUTTON = "検索 / Search"
CITY_LABEL = "市 / City"
PLAN_LABEL = "計画書 / Plan"
GOAL_LABEL = "基本目標 / Goal"
KIND_LABEL = "種類 / Type"
#: The 種類 / Type filter's choices: (label, chunk kind).
KIND_CHOICES = (("施策 / Measures", "measure"), ("目標 / Goals", "goal"), ("KPI・数値目標 / KPIs", "kpi"),
                ("本文 / Text", "paragraph"))
K_LABEL = "件数 / Results"
ALL = "すべて / All"
EXAMPLES_LABEL = "検索例 / Examples"
DOWNLOAD = "CSVで保存 / Download CSV"
SEARCH_TAB = "検索 / Search"
VIEW_SOURCE = "原文を見る / View source"
KPI_SUMMARY = "指標・KPI / Indicators"
SCORE = "スコア / score"
#: The calibrated chance that a hit is relevant (kb/rank/calibration.py), in the label's tooltip.
PROBABILITY = "関連する確率 / chance relevant"
INTERPRETED = "検索の解釈 / Query interpreted as"
RESULTS_COUNT = "件 / results"
SECONDS = "秒 / s"
SOURCE_HEADING = "原文 / Source"
SOURCE_HINT = (
    "検索結果の「原文を見る」を押すと、計画書の該当箇所がここに行番号つきで表示されます。"
    " / Press “View source” on a result to see the passage here, in the original plan, with line numbers."
)
LINES = "行 / lines"
LINK_HERE = "この表示へのリンク / Link to this view"
MORE = "続きを読む / Read more"
NO_RESULTS = ("該当する箇所が見つかりませんでした", "No matching passages")
NO_CLEAR_MATCH = ("関連の薄い結果です", "No clear match")
NO_CLEAR_MATCH_HINT = (
    "質問の言葉が計画書に見当たりません。以下は最も近い箇所です。 / "
    "No word of the question occurs in the plans; these are only the nearest passages."
)
NO_RESULTS_HINT = "別の言葉で試すか、絞り込みを外してください。 / Try other words, or remove a filter."
CANNOT_SEARCH = ("検索できません", "Cannot search")
CANNOT_SHOW = ("原文を表示できません", "Cannot show the source")
INTERNAL_ERROR = ("予期しないエラーが発生しました", "Something went wrong")
INTERNAL_HINT = "もう一度お試しください。続く場合は管理者に連絡してください。 / Please try again; if it persists, tell the administrator."
WELCOME_HEAD = ("検索できる計画書", "Plans you can search")
WELCOME_HINT = (
    "上の欄に質問やキーワードを入力して Enter を押すか、検索例を選んでください。日本語でも英語でも検索できます。"
    " / Type a question or keywords above and press Enter, or pick an example. Japanese and English both work."
)
NO_INDEX = ("検索インデックスがまだありません", "The search index has not been built yet")
NO_INDEX_HINT = (
    "ターミナルで <code>./run.sh</code>(または <code>kb build</code>)を実行してからアプリを起動し直すか、"
    "下のボタンでここで作成してください(数分かかります)。"
    " / Run <code>./run.sh</code> (or <code>kb build</code>) in a terminal and restart the app,"
    " or build it here with the button below (takes a few minutes)."
)
BUILD_BUTTON = "インデックスを作成 / Build the index"
BUILD_DONE = ("インデックスを作成しました", "The index is ready")
BUILD_DONE_HINT = "そのまま検索できます。 / You can search now."
STALE_INDEX = (
    "計画書のファイルがインデックス作成後に変更されています。<code>kb build</code> で作り直してください。"
    " / Plan files changed since the index was built; rebuild it with <code>kb build</code>."
)

#: Example queries shown under the search box (Japanese and English).
EXAMPLES = (
    "若い女性の転出を防ぐ施策",
    "which measures address the outflow of young women",
    "子育て支援",
    "観光客の誘致",
    "防災・災害への備え",
    "jobs for new graduates",
    "DXの推進",
)

KIND_LABELS = {
    "measure": "施策 / measure",
    "goal": "目標 / goal",
    "kpi": "指標 / KPI",
    "paragraph": "本文 / text",
}

#: Japanese for the user-facing messages of :func:`kb.search.searcher.validate_query` (matched by substring).
QUERY_ERROR_JA = (
    ("is empty", "検索語が空です。質問やキーワードを入力してください。"),
    ("control characters", "制御文字が含まれています。普通の文字で入力してください。"),
    ("too long", "検索語が長すぎます。短くしてください。"),
    ("no words", "検索できる語がありません。言葉を入力してください。"),
    ("not valid Unicode", "文字化けした文字が含まれています。"),
    ("unknown city", "この市では絞り込めません。"),
    ("unknown document", "この計画書はインデックスにありません。"),
    ("must be text", "検索語は文字で入力してください。"),
)


def query_error_ja(message: str) -> str:
    """The Japanese line for a :class:`~kb.search.searcher.QueryError` message, or a generic one.

    Numbers in the English message (``too long (812 characters; the limit is 500)``) are
    what the user needs to act on, so the Japanese line repeats them.
    """
    if "too long" in message and (numbers := re.findall(r"\d+", message)) and len(numbers) >= 2:
        return f"検索語が長すぎます（{numbers[0]} 文字、上限 {numbers[-1]} 文字）。短くしてください。"
    for needle, japanese in QUERY_ERROR_JA:
        if needle in message:
            return japanese
    return "入力を確認してください。"

BACK = "← 戻る / Back"
COPY_LINK = "リンクをコピー / Copy link"
LINK_COPIED = "コピーしました / Copied"

ADD_TAB = "計画を追加 / Add a plan"
ADD_HINT = ("PDF・HTML・テキストの計画書を追加すると、再起動なしで検索できるようになります（このパソコンからのみ）。 / "
            "Add a plan as PDF, HTML or text; it becomes searchable without a restart (from this computer only).")
ADD_FILE = "ファイル（複数可） / Files, one or several (PDF, HTML, TXT, 1 件 50 MB まで / up to 50 MB each)"
ADD_TITLE = "計画名 / Title"
ADD_CITY = "自治体 / City"
ADD_KIND = "種類 / Kind (総合計画, 総合戦略 …)"
ADD_PERIOD = "期間 / Period (2026-2030)"
ADD_BUTTON = "追加する / Add"
ADD_DONE = ("計画を追加しました", "Plan added")
ADD_FAILED = ("追加できません", "Cannot add the plan")
ADD_REFUSED = ("このパソコンからのみ追加できます", "Plans can be added from this computer only")
ADD_REFUSED_HINT = "kb を動かしているパソコンで開いてください。 / Open the page on the computer that runs kb."
ADD_REFUSED_HOST = ("このアドレスからは追加できません。kb を動かしているパソコンで http://127.0.0.1:ポート/ を開いてください"
                    "（別名は KB_ALLOWED_HOSTS に登録）。 / Not from this address: open http://127.0.0.1:PORT/ on the "
                    "computer that runs kb (list other names in KB_ALLOWED_HOSTS).")
ADD_NO_FILE = "ファイルを選んでください。 / Choose a file first."
ADD_TYPES = "PDF・HTML・TXT のみ追加できます。 / Only PDF, HTML and TXT files can be added."
ADD_TOO_BIG = "50 MB を超えるファイルは追加できません。 / Files over 50 MB cannot be added."
# Adding several files at once (kb/ui/add_summary.py): one table row a file.
ADD_SOME = ("一部の計画を追加しました", "Some plans added")
ADD_TITLE_ONE = ("計画名は 1 ファイルのときだけ指定できます（複数のときは各ファイルの題名を使います）。 / "
                 "A title names one plan: leave it empty when adding several files (each keeps its own title).")
ADD_COLUMNS = ("ファイル / File", "計画 / Plan", "ページ / Pages", "目標 / Goals", "施策 / Measures", "KPI",
               "結果 / Result")
ADD_ROW_ADDED = "追加しました / Added"
ADD_ROW_REFUSED = "追加できません / Refused"
ADD_INDEX = "索引 / Index: {chunks} passages; {embedded} embedded, {reused} reused (one rebuild)"
BROKEN_LINK = ("このリンクの原文は見つかりません。リンクが古いか、計画が更新・削除された可能性があります。 / "
               "The source of this link was not found: the link may be old, or the plan was updated or removed.")
