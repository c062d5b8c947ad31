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
S1 = Text(ru="1. % целевых лидов по каналам", en="1. % qualified leads per channel")
S2 = Text(ru="2. Качество экспериментальных каналов", en="2. Quality of experimental channels")
S3 = Text(ru="3. Темп и воронка против плана", en="3. Run rate and pipeline against plan")
S4 = Text(ru="4. Что отклоняется от плана и почему", en="4. What is off plan, and why")
S5 = Text(ru="5. Задачи прошлой недели", en="5. Last week's tasks")
S6 = Text(ru="6. Задачи на следующую неделю", en="6. Next week's tasks")

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
