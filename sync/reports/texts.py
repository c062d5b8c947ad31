"""Headings and labels of the weekly report, in Russian and English."""

from __future__ import annotations

from integration.i18n import Text

TITLE = Text(
    ru="Еженедельная встреча маркетинга и продаж — {week}", en="Weekly marketing & sales meeting — {week}"
)
SUBTITLE = Text(
    ru="Неделя {start} — {end}; правила v{version}; данные на {as_of} UTC.",
    en="Week {start} — {end}; rules v{version}; figures as of {as_of} UTC.",
)
S1 = Text(
    ru="1. % целевых лидов: всего, по каналам, эксперименты",
    en="1. % qualified: total, per channel, experimental",
)
S2 = Text(ru="2. Качество экспериментальных каналов", en="2. Quality of experimental channels")
S3 = Text(ru="3. Темп и воронка против плана", en="3. Run rate and pipeline against plan")
S4 = Text(ru="4. Конверсия менеджеров: лучший и худший", en="4. Manager conversion: best and worst")
S5 = Text(
    ru="5. Цена лида, целевого лида и клиента по каналам", en="5. Cost per lead, qualified lead and customer"
)
S6 = Text(ru="6. Что отклоняется от плана и почему", en="6. What is off plan, and why")
S7 = Text(ru="7. Гипотезы", en="7. Hypotheses")
S8 = Text(ru="8. Задачи прошлой недели", en="8. Last week's tasks")
S9 = Text(ru="9. Задачи на следующую неделю", en="9. Next week's tasks")

MANAGER = Text(ru="Менеджер", en="Manager")
WON = Text(ru="Выиграно", en="Won")
MANAGER_NOTE = Text(ru="Оценка", en="Verdict")
MANAGER_CONVERSION = Text(ru="Конверсия", en="Conversion")
BEST = Text(ru="лучший", en="best")
WORST = Text(ru="худший", en="worst")
MIN_SAMPLE_NOTE = Text(
    ru="Лучшим или худшим называется менеджер с не менее чем {min} лидами за неделю; {basis}.",
    en="Only a manager with at least {min} leads in the week is named best or worst; {basis}.",
)
MANAGER_CONVERSION_BASIS = Text(
    ru="конверсия — доля лидов недели, выигранных к дате отчёта",
    en="conversion is the share of the week's leads won by the report's date",
)
NO_MANAGERS = Text(
    ru="Лидов с ответственным на этой неделе нет.", en="No lead with a responsible user this week."
)
SPEND = Text(ru="Расход", en="Spend")
PER_LEAD = Text(ru="Цена лида", en="Per lead")
PER_QUALIFIED = Text(ru="Цена целевого", en="Per qualified")
CUSTOMERS = Text(ru="Клиенты", en="Customers")
PER_CUSTOMER = Text(ru="Цена клиента", en="Per customer")
NO_SPEND = Text(
    ru="Расходы за эту неделю не загружены (leadpact spend import) — цены неизвестны.",
    en="No spend is loaded for this week (leadpact spend import) — costs are unknown.",
)
BASIS_NOTE = Text(ru="Клиенты и выручка: {basis}.", en="Customers and revenue: {basis}.")
NO_HYPOTHESES = Text(ru="Гипотез к обсуждению нет.", en="No hypotheses to discuss.")
OVERDUE = Text(ru="просрочена", en="overdue")
NO_NEXT_TASKS = Text(ru="Задач на следующую неделю пока нет.", en="No tasks are set for next week yet.")

CHANNEL = Text(ru="Канал", en="Channel")
LEADS = Text(ru="Лиды", en="Leads")
CLASSIFIED = Text(ru="Оценено", en="Classified")
QUALIFIED = Text(ru="Целевые", en="Qualified")
QUALIFIED_PCT = Text(ru="% целевых", en="% qualified")
NORM = Text(ru="Норма", en="Norm")
VERDICT = Text(ru="Вердикт", en="Verdict")
IN_NORM = Text(ru="в норме", en="within norm")
BELOW_NORM = Text(ru="ниже нормы", en="below norm")
NO_NORM = Text(ru="нормы нет", en="no norm")
NO_CHANNEL = Text(ru="(без канала)", en="(no channel)")
TOTAL = Text(ru="Всего", en="Total")
EXPERIMENTAL_TOGETHER = Text(ru="Эксперименты вместе", en="Experiments together")
NO_EXPERIMENTS = Text(
    ru="Экспериментальных каналов на этой неделе нет.", en="No experimental channels this week."
)
DISPUTES = Text(
    ru="Продажи оспорили классификацию на этой неделе:", en="Sales disputed these classifications this week:"
)
DISPUTE_LINE = Text(
    ru="{channel} / {level}: сделок {leads}; причины: {reasons}",
    en="{channel} / {level}: {leads} leads; reasons: {reasons}",
)
NO_DISPUTES = Text(ru="Споров о классификации не было.", en="No classification was disputed.")
EXPERIMENTAL_MARK = Text(ru="* — экспериментальный канал", en="* — experimental channel")

METRIC = Text(ru="Показатель", en="Figure")
PLAN = Text(ru="План", en="Plan")
PLANNED_TO_DATE = Text(ru="План на дату", en="Planned to date")
ACTUAL = Text(ru="Факт", en="Actual")
PACE = Text(ru="Темп", en="Pace")
FORECAST = Text(ru="Прогноз", en="Forecast")
PIPELINE = Text(
    ru="Открытых сделок: {deals} на {value}; взвешенно по вероятности этапа: {weighted}; покрытие остатка плана: {coverage}.",
    en="Open deals: {deals} worth {value}; weighted by stage win rate: {weighted}; coverage of the remaining plan: {coverage}.",
)
FUNNEL_PIPELINE = Text(ru="Воронка {pipeline}", en="Pipeline {pipeline}")
STAGE = Text(ru="Этап", en="Stage")
REACHED = Text(ru="Дошли", en="Reached")
CONVERSION = Text(ru="Дальше", en="Went on")

TOO_FEW_VERDICT = Text(ru="мало данных для вывода (n={n})", en="too few to judge (n={n})")
UNKNOWN = Text(ru="неизвестно", en="unknown")
PLAN_ALREADY_MET = Text(ru="план по выручке уже выполнен", en="the revenue plan is already met")
NO_REVENUE_PLAN = Text(ru="плана по выручке нет", en="no revenue plan")

ALL_ON_PLAN = Text(
    ru="Все показатели в пределах плана и норм — отдельного разбора не нужно.",
    en="Every figure is within plan and norms — nothing to dig into.",
)
EXPLAINED_BY = Text(ru="Чем объясняется", en="What explains it")
HYPOTHESES = Text(ru="Гипотезы для обсуждения", en="Hypotheses to discuss")

TASK = Text(ru="Задача", en="Task")
RESPONSIBLE = Text(ru="Ответственный", en="Responsible")
DUE = Text(ru="Срок", en="Due")
STATUS = Text(ru="Статус", en="Status")
DONE = Text(ru="выполнена", en="done")
OPEN = Text(ru="не выполнена", en="open")
NO_TASKS = Text(ru="На прошлой встрече задач не ставили.", en="No tasks were set at the last meeting.")
TASKS_UNAVAILABLE = Text(
    ru="Не удалось прочитать задачи из amoCRM; остальной отчёт актуален.",
    en="Could not read the tasks from amoCRM; the rest of the report stands.",
)
NEXT_TASKS_HINT = Text(
    ru="Задачи ставятся в amoCRM со страницы отчёта (/reports/weekly) со сроком до {due} и меткой {tag}.",
    en="Tasks are created in amoCRM from the report page (/reports/weekly), due {due}, tagged {tag}.",
)

TRENDS = Text(ru="Неделя против 8 предыдущих", en="This week against the previous 8 weeks")
TREND_METRIC = Text(ru="Показатель", en="Statistic")
TREND_WEEKS = Text(ru="8 недель до этой (старые → новые)", en="8 weeks before (oldest → newest)")
TREND_LINE = Text(ru="9 недель", en="9 weeks")
LAST_WEEK = Text(ru="Прошлая неделя", en="Last week")
THIS_WEEK = Text(ru="Эта неделя", en="This week")
CHANGE = Text(ru="Изменение", en="Change")
TREND_NAMES: dict[str, Text] = {
    "leads": Text(ru="Лиды", en="Leads"),
    "qualified_pct": Text(ru="% целевых", en="% qualified"),
    "deals": Text(ru="Сделки", en="Deals"),
    "revenue": Text(ru="Выручка", en="Revenue"),
    "conversion": Text(ru="Конверсия лид → продажа", en="Lead → won"),
    "per_customer": Text(ru="Цена клиента", en="Cost per customer"),
}
RESULTS = Text(ru="Результаты с момента установки", en="Results since install")
RESULTS_SINCE = Text(
    ru="LeadPact установлен {installed}; по неделям с недели установки ({weeks} нед.){truncated}.",
    en="LeadPact was installed on {installed}; weekly from the week of install ({weeks} weeks){truncated}.",
)
RESULTS_TRUNCATED = Text(ru=", показаны последние", en=", the latest shown")
RESULTS_FIRST = Text(ru="Неделя установки", en="Week of install")
RESULTS_NAMES: dict[str, Text] = {
    "conversion": Text(ru="Конверсия продавцов (лид → продажа)", en="Seller conversion (lead → won)"),
    "revenue": Text(ru="Выручка", en="Revenue"),
    "per_customer": Text(ru="Маркетинг на одного клиента", en="Marketing spend per customer"),
    "median_cycle_days": Text(ru="Медианный цикл сделки, дней", en="Median deal cycle, days"),
    "qualified_pct": Text(ru="Доля целевых лидов", en="Share of qualified leads"),
}
CUMULATIVE_NOTE = Text(
    ru="Графики: нарастающий итог по дням недели против линии плана.",
    en="Charts: the week's cumulative daily line against the plan's line.",
)

# --- hypotheses under test (rules.hypotheses) --------------------------------------------------------------
TRACKED = Text(
    ru="Гипотезы в проверке: эффект до и после старта", en="Hypotheses under test: before vs after"
)
HYPOTHESIS = Text(ru="Гипотеза", en="Hypothesis")
OWNER = Text(ru="Владелец", en="Owner")
METRIC = Text(ru="Метрика", en="Metric")
SEGMENT = Text(ru="Сегмент", en="Segment")
SINCE = Text(ru="Старт", en="Since")
BEFORE = Text(ru="До", en="Before")
AFTER = Text(ru="После", en="After")
CHANGE = Text(ru="Изменение (95% ДИ)", en="Change (95% CI)")
VERDICT = Text(ru="Вывод", en="Verdict")
NO_TRACKED = Text(
    ru="Открытых гипотез нет (leadpact hypotheses add).", en="No open hypotheses (leadpact hypotheses add)."
)
VERDICT_RULE = Text(
    ru="Окна: N дней до и N дней после старта, N — дней с начала, не больше {days}. «Подтверждена» — 95% "
    "интервал изменения целиком в ожидаемую сторону; «опровергнута» — целиком в обратную или включает 0 "
    "при выборке не меньше {min} в обоих окнах; иначе «рано судить». Доли: интервал Ньюкомба (Уилсон); "
    "цены: расход известен, число лидов пуассоновское.",
    en="Windows: N days before and N days after the start, N = days since the start, at most {days}. "
    "'Confirmed': the change's 95% interval lies entirely on the expected side; 'refuted': entirely on the "
    "other side, or it contains 0 while both windows have at least {min}; otherwise 'too early'. Shares: "
    "Newcombe (Wilson) interval; costs: spend taken as known, lead counts as Poisson.",
)
METRIC_QUALIFIED = Text(ru="% целевых", en="% qualified")
METRIC_CONVERSION = Text(ru="конверсия лид→выигрыш", en="conversion lead→won")
METRIC_CPL = Text(ru="цена лида", en="CPL")
METRIC_CPQL = Text(ru="цена целевого лида", en="CPQL")
GOES_UP = Text(ru="должна расти", en="should rise")
GOES_DOWN = Text(ru="должна снижаться", en="should fall")
CONFIRMED = Text(ru="подтверждена", en="confirmed")
REFUTED = Text(ru="опровергнута", en="refuted")
TOO_EARLY = Text(ru="рано судить", en="too early")
NO_DATA = Text(ru="нет данных", en="no data")

# Speed to lead (in the managers' section).
SPEED = Text(ru="Скорость реакции на новый лид", en="Speed to lead")
SPEED_MEDIAN = Text(ru="Медиана до первого действия", en="Median to first action")
SPEED_TOUCHED = Text(ru="Обработано", en="Touched")
TOUCHED_OF = Text(ru="{touched} из {leads}", en="{touched} of {leads}")
NO_TOUCH_YET = Text(ru="пока никто не обработан", en="none touched yet")
SPEED_NOTE = Text(
    ru="По лидам, созданным на этой неделе: время от создания до первого действия человека (примечание, звонок, "
    "задача или смена этапа). Необработанные лиды в медиану не входят — их число в столбце «Обработано».",
    en="Over the leads created this week: the time from creation to a person's first action (a note, call, task "
    "or stage move). Leads nobody touched are not in the median: the Touched column counts them.",
)
SPEED_NO_EVENTS = Text(
    ru="Список событий amoCRM недоступен: примечания, звонки и смены этапов не видны, учтены только задачи.",
    en="amoCRM's events list is not available: notes, calls and stage moves are not seen, only tasks count.",
)
WAITING = Text(
    ru="Открытые лиды без единого действия дольше {threshold}: {total}",
    en="Open leads with no action for longer than {threshold}: {total}",
)
WAITING_NONE = Text(
    ru="Открытых лидов без действия дольше {threshold} нет.",
    en="No open lead has gone without an action for longer than {threshold}.",
)
WAITING_MORE = Text(ru="…и ещё {more}", en="…and {more} more")
LEAD_COLUMN = Text(ru="Лид", en="Lead")
WAITING_FOR = Text(ru="Ждёт", en="Waiting")
MINUTES = Text(ru="{n} мин", en="{n} min")
HOURS = Text(ru="{h} ч {m} мин", en="{h} h {m} min")
DAYS = Text(ru="{d} дн {h} ч", en="{d} d {h} h")
WHOLE_HOURS = Text(ru="{h} ч", en="{h} h")
WHOLE_DAYS = Text(ru="{d} дн", en="{d} d")
