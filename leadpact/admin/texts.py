"""Every word of the admin pages, in Russian and English."""

from __future__ import annotations

from integration.i18n import Text

ADMIN = Text(ru="LeadPact — администрирование", en="LeadPact — administration")
NAV_HOME = Text(ru="Обзор", en="Overview")
NAV_RULES = Text(ru="Правила", en="Rules")
NAV_HISTORY = Text(ru="История правил", en="Rule history")
NAV_PROMOS = Text(ru="Акции и купоны", en="Promos & coupons")
NAV_PLANS = Text(ru="Планы и расходы", en="Plans & spend")
NAV_INBOX = Text(ru="Очередь вебхуков", en="Webhook inbox")
NAV_REPORT = Text(ru="Отчёт недели", en="Weekly report")
RESULTS_SINCE_INSTALL = Text(ru="Результаты с момента установки", en="Results since install")
LOGOUT = Text(ru="Выйти", en="Sign out")
SIGNED_IN_AS = Text(ru="Аккаунт {account}, пользователь {user}", en="Account {account}, user {user}")

UNAUTHORIZED_TITLE = Text(ru="Нужен вход", en="Sign-in needed")
UNAUTHORIZED = Text(
    ru="Откройте администрирование LeadPact из настроек виджета LeadPact в amoCRM: вход — через amoCRM.",
    en="Open LeadPact administration from the LeadPact widget settings in amoCRM: sign-in goes through amoCRM.",
)
DEMO_SIGN_IN = Text(
    ru="Это демо на песочнице amoCRM: войти без amoCRM и вернуться на эту страницу",
    en="This is the demo on the amoCRM sandbox: sign in without amoCRM and come back to this page",
)
FORBIDDEN_TITLE = Text(ru="Нет доступа", en="No access")
FORBIDDEN = Text(
    ru="LeadPact открыт администраторам аккаунта amoCRM и руководителям, назначенным подписывать правила.",
    en="LeadPact is open to the amoCRM account's administrators and to the heads named to sign the rules off.",
)
ADMINS_ONLY = Text(
    ru="Эта страница — настройка аккаунта: она доступна только администраторам аккаунта amoCRM.",
    en="This page sets the account up: it is for the amoCRM account's administrators only.",
)
CSRF_FAILED = Text(
    ru="Форма устарела или отправлена не со страницы LeadPact. Обновите страницу и повторите.",
    en="The form is stale or was not sent from a LeadPact page. Reload the page and try again.",
)
NOT_FOUND = Text(ru="Не найдено.", en="Not found.")

# Overview
ACCOUNT_STATUS = Text(ru="Подключение amoCRM", en="amoCRM connection")
STATUS_ACTIVE = Text(ru="подключён", en="connected")
STATUS_REAUTH = Text(
    ru="нужна повторная авторизация — LeadPact не может обращаться к amoCRM",
    en="needs re-authorisation — LeadPact cannot reach amoCRM",
)
STATUS_REMOVED = Text(ru="отключён", en="removed")
REAUTH = Text(ru="Авторизовать заново", en="Re-authorise")
ACTIVE_RULES = Text(ru="Действующие правила: v{version}", en="Running rules: v{version}")
INBOX_HEALTH = Text(ru="Очередь вебхуков", en="Webhook inbox")
INSTALL_HEALTH = Text(ru="Состояние установки", en="Install health")
HEALTH_PART = Text(ru="Что", en="Part")
HEALTH_STATE = Text(ru="Состояние", en="State")
HEALTH_CHECKED = Text(ru="Когда проверено", en="Last checked")
PENDING = Text(ru="Ожидают", en="Pending")
DONE_ITEMS = Text(ru="Обработано", en="Done")
FAILED_ITEMS = Text(ru="Не разобраны", en="Unreadable")
DEAD_ITEMS = Text(ru="Отложены после ошибок", en="Dead-lettered")
LAG = Text(ru="Задержка (старейший в очереди)", en="Lag (oldest pending)")
SECONDS = Text(ru="{value} с", en="{value} s")

# Rules
RULES_TITLE = Text(ru="Файл правил", en="Rule file")
RULES_BASED_ON = Text(
    ru="Редактируете текст версии v{version}. Сначала проверка и прогон на сохранённых сделках, затем — на согласование.",
    en="Editing the text of v{version}. Check it and preview it on stored leads first, then propose it for sign-off.",
)
CHECK = Text(ru="Проверить и прогнать", en="Check and preview")
PROPOSE = Text(ru="Отправить на согласование", en="Propose for sign-off")
COMMENT = Text(ru="Комментарий", en="Comment")
ISSUES = Text(ru="Ошибки в файле правил", en="Problems in the rule file")
ISSUE_AT = Text(ru="строка {line}, столбец {column}", en="line {line}, column {column}")
VALID = Text(ru="Файл правил корректен.", en="The rule file is valid.")
NOT_STORED = Text(
    ru="Файл с ошибками не сохранён и не может быть активирован.",
    en="A file with errors is not stored and cannot be activated.",
)
PREVIEW = Text(
    ru="Прогон на сохранённых сделках (кандидат против действующих)",
    en="Backtest on stored leads (candidate vs running)",
)
PREVIEW_SCOPE = Text(
    ru="Последние {count} сделок по дате изменения.", en="The latest {count} leads by update time."
)
LEAD = Text(ru="Сделка", en="Lead")
BEFORE = Text(ru="Сейчас (канал / уровень / целевой)", en="Now (channel / level / qualified)")
AFTER = Text(ru="С кандидатом", en="With the candidate")
DRAFTS = Text(ru="Черновики на согласовании", en="Drafts awaiting sign-off")
NO_DRAFTS = Text(ru="Черновиков нет.", en="No drafts.")
VERSION = Text(ru="Версия v{version}", en="Version v{version}")
VERSION_STATUS = Text(ru="Статус", en="Status")
PROPOSED_BY = Text(ru="Предложил", en="Proposed by")
APPROVALS = Text(ru="Согласования", en="Sign-offs")
NO_APPROVALS = Text(ru="пока нет", en="none yet")
APPROVE_AS = Text(ru="Согласовать как", en="Sign off as")
ROLE_MARKETING = Text(ru="маркетинг", en="marketing")
ROLE_SALES = Text(ru="продажи", en="sales")
APPROVE = Text(ru="Согласовать", en="Sign off")
ACTIVATE = Text(ru="Активировать", en="Activate")
EMERGENCY = Text(
    ru="Экстренная активация (с одним согласованием; будет отмечена в истории)",
    en="Emergency activation (with a single sign-off; marked as such in the history)",
)
ACTIVATED = Text(
    ru="Версия v{version} активирована. Поставлено на переоценку сделок: {queued}.",
    en="Version v{version} is now running. Leads queued for re-classification: {queued}.",
)
APPROVED = Text(ru="Согласование записано.", en="Sign-off recorded.")
DIFF = Text(ru="Изменения", en="Changes")
TEXT = Text(ru="Текст", en="Text")
HISTORY = Text(ru="История версий", en="Version history")
ACTIVATED_AT = Text(ru="Активирована", en="Activated")
EMERGENCY_MARK = Text(ru="экстренно", en="emergency")
COMPARE = Text(ru="Сравнить", en="Compare")
STATUS_NAMES = {
    "draft": Text(ru="черновик", en="draft"),
    "active": Text(ru="действует", en="running"),
    "superseded": Text(ru="заменена", en="superseded"),
    "rejected": Text(ru="отклонена", en="rejected"),
}

# Promos
PROMOS = Text(ru="Акции", en="Promos")
PROMO_KEY = Text(ru="Ключ", en="Key")
PROMO_NAME = Text(ru="Название", en="Name")
PROMO_DESCRIPTION = Text(ru="Описание", en="Description")
PROMO_PERIOD = Text(ru="Сроки", en="Dates")
PROMO_CODE = Text(ru="Код", en="Code")
POOL = Text(ru="Пул купонов (всего / выдано / использовано)", en="Coupon pool (total / issued / used)")
NO_PROMOS = Text(ru="Акций нет.", en="No promos.")
IMPORT_PROMOS = Text(ru="Импорт акций (CSV или YAML)", en="Import promos (CSV or YAML)")
FORMAT = Text(ru="Формат", en="Format")
IMPORT = Text(ru="Импортировать", en="Import")
IMPORTED = Text(
    ru="Импортировано акций: {promos}, кодов: {codes}.", en="Imported promos: {promos}, codes: {codes}."
)
IMPORT_FAILED = Text(
    ru="Ничего не сохранено — исправьте ошибки:", en="Nothing was stored — fix these problems:"
)

# Plans and spend
PLANS = Text(ru="Планы", en="Plans")
SPEND = Text(ru="Расходы", en="Spend")
PERIOD = Text(ru="Период", en="Period")
PLAN_LEADS = Text(ru="Лиды", en="Leads")
PLAN_QUALIFIED = Text(ru="Целевые", en="Qualified")
PLAN_DEALS = Text(ru="Сделки", en="Deals")
PLAN_REVENUE = Text(ru="Выручка", en="Revenue")
SET_PLAN = Text(ru="Задать план", en="Set a plan")
SAVE = Text(ru="Сохранить", en="Save")
CHANNEL = Text(ru="Канал", en="Channel")
AMOUNT = Text(ru="Сумма", en="Amount")
IMPORT_SPEND = Text(
    ru="Загрузить расходы (CSV: period,channel,amount)", en="Upload spend (CSV: period,channel,amount)"
)
SAVED = Text(ru="Сохранено.", en="Saved.")
NO_PLANS = Text(ru="Планов нет.", en="No plans.")
NO_SPEND = Text(ru="Расходов нет.", en="No spend.")
NOT_A_NUMBER = Text(
    ru="План «{name}»: «{value}» — не целое число.", en="The {name} plan: “{value}” is not a whole number."
)
PERIOD_HINT = Text(ru="2026-11 или 2026-11-01..2026-11-07", en="2026-11 or 2026-11-01..2026-11-07")

# Inbox
PROBLEMS = Text(ru="Проблемные вебхуки", en="Problem deliveries")
NO_PROBLEMS = Text(ru="Проблемных вебхуков нет.", en="No problem deliveries.")
RECEIVED = Text(ru="Получен", en="Received")
ERROR = Text(ru="Ошибка", en="Error")
ATTEMPTS = Text(ru="Попыток", en="Attempts")
RETRY = Text(ru="Повторить", en="Retry")
SALVAGED = Text(ru="Доставлены не полностью", en="Delivered in part")
SALVAGED_HINT = Text(
    ru="Всё прочитанное применено; сделки с нечитаемыми полями перечитаны из amoCRM.",
    en="Everything readable was applied; leads with unreadable fields were read again from amoCRM.",
)
SALVAGED_ITEM = Text(ru="доставлен, нечитаемых полей: {count}", en="delivered, {count} fields unreadable")
RETRIED = Text(ru="Вебхук #{item} снова в очереди.", en="Delivery #{item} is queued again.")

# Weekly report page
WEEK = Text(ru="Неделя", en="Week")
SHOW = Text(ru="Показать", en="Show")
NEW_TASK = Text(ru="Новая задача к следующей встрече", en="A new task for the next meeting")
TASK_TEXT = Text(ru="Что сделать", en="What to do")
CREATE_TASK = Text(ru="Создать задачу в amoCRM", en="Create the task in amoCRM")
TASK_CREATED = Text(ru="Задача #{task} создана в amoCRM.", en="Task #{task} was created in amoCRM.")
TASK_FAILED = Text(
    ru="amoCRM не принял задачу: проверьте ответственного и подключение.",
    en="amoCRM did not accept the task: check the owner and the connection.",
)
TASK_EMPTY = Text(ru="Напишите, что сделать.", en="Write what is to be done.")
TASK_UNKNOWN_USER = Text(
    ru="Такого пользователя нет в аккаунте amoCRM — выберите ответственного из списка.",
    en="No such user in the amoCRM account — pick the responsible person from the list.",
)
ASSIGNEE = Text(ru="Ответственный", en="Responsible")
ASSIGNEE_DEFAULT = Text(ru="— пользователь интеграции —", en="— the integration's user —")
AS_OF = Text(ru="Данные на", en="As of")

SIGNERS_TITLE = Text(ru="Кто согласует правила", en="Who signs the rules off")
SIGNERS_INTRO = Text(
    ru="Отметьте пользователей amoCRM, которые согласуют версии правил за маркетинг и за продажи. Пока никто не "
    "отмечен, согласовать может любой администратор аккаунта; один человек не может согласовать за оба отдела.",
    en="Tick the amoCRM users who sign rule versions off for marketing and for sales. While nobody is ticked, any "
    "account admin may sign; one person never signs for both departments.",
)
SIGNERS_SAVED = Text(
    ru="Сохранено: кто согласует за каждый отдел.", en="Saved: who signs off for each department."
)
SIGNERS_BOTH = Text(
    ru="{name} отмечен(а) и за маркетинг, и за продажи: один человек согласует только за один отдел.",
    en="{name} is ticked for both marketing and sales: one person signs off for one department only.",
)
SIGNERS_USERS_FAILED = Text(
    ru="Не удалось получить пользователей из amoCRM — попробуйте ещё раз.",
    en="Could not read the users from amoCRM — try again.",
)
SIGNERS_LINK = Text(ru="Кто согласует", en="Who signs off")
HEADS_NOTIFIED = Text(
    ru="Задача на согласование поставлена в amoCRM: {names}.",
    en="A sign-off task was set in amoCRM for: {names}.",
)
HEADS_NOT_NOTIFIED = Text(
    ru="Черновик сохранён, но задачу в amoCRM поставить не удалось — сообщите согласующим ссылку на эту страницу.",
    en="The draft is saved, but the amoCRM task could not be set — send the signers this page's link.",
)
NAV_DISPUTES = Text(ru="Споры", en="Disputes")
DISPUTES_TITLE = Text(ru="Споры менеджеров о классификации", en="Reps' disputes of the classification")
DISPUTES_NONE = Text(ru="Открытых споров нет.", en="No open disputes.")
DISPUTE_LEAD = Text(ru="Сделка", en="Lead")
DISPUTE_CRITERION = Text(ru="Что оспорено", en="Disputed")
DISPUTE_CLASSIFIED = Text(ru="Было", en="Classified as")
DISPUTE_REASON = Text(ru="Слова менеджера", en="The rep's words")
DISPUTE_WHEN = Text(ru="Когда", en="When")
DISPUTE_RULE_RIGHT = Text(ru="Правило верно", en="The rule is right")
DISPUTE_RULE_CHANGE = Text(ru="Правило нужно изменить", en="The rule needs a change")
CRITERION_CHANNEL = Text(ru="канал", en="channel")
CRITERION_LEVEL = Text(ru="уровень", en="level")
CRITERION_QUALIFIED = Text(ru="целевой", en="qualified")
CRITERION_FOCUS = Text(
    ru="Черновик по спору: раздел «{criterion}» — строка {line}.",
    en="Draft for a dispute: the “{criterion}” section — line {line}.",
)
# Field mapping
NAV_MAPPING = Text(ru="Поля", en="Fields")
MAPPING = Text(ru="Сопоставление полей", en="Field mapping")
MAPPING_INTRO = Text(
    ru="Какие поля сделок вашего аккаунта играют роли из правил. Процент — доля сохранённых сделок, где поле "
    "заполнено. Изменение — это новая версия правил: её согласуют маркетинг и продажи, затем активируют.",
    en="Which lead fields of your account play the roles the rules name. The percentage is the share of stored "
    "leads where the field is filled. A change is a new rules version: marketing and sales sign it off, "
    "then it is activated.",
)
ROLE = Text(ru="Роль", en="Role")
ACCOUNT_FIELD = Text(ru="Поле аккаунта", en="Account field")
USED_BY = Text(ru="Где используется", en="Used by")
READ_BY_CRITERION = Text(ru="критерий", en="criterion")
READ_BY_LEVEL = Text(ru="уровень", en="level")
READ_BY_CHANNEL = Text(ru="канал", en="channel")
NOT_MAPPED = Text(ru="— не сопоставлено —", en="— not mapped —")
FILLED_PCT = Text(ru="заполнено в {pct} % сделок", en="filled in {pct} % of leads")
CREATE_FIELD = Text(ru="Создать это поле в amoCRM", en="Create this field in amoCRM")
NO_CANDIDATES = Text(ru="В аккаунте нет подходящего поля.", en="The account has no suitable field.")
PREVIEW_MAPPING = Text(ru="Бэктест: что изменится", en="Backtest: what changes")
PROPOSE_MAPPING = Text(ru="Предложить на согласование", en="Propose for sign-off")
MAPPING_NOT_PROPOSED = Text(
    ru="Сопоставление ещё не предложено: оно появится после установки (провижининга) аккаунта.",
    en="No mapping has been proposed yet: it appears once the account is provisioned.",
)
FIELD_CREATED = Text(
    ru="Поле «{name}» создано в amoCRM и выбрано.", en="Field “{name}” was created in amoCRM and selected."
)
CREATE_FAILED = Text(
    ru="amoCRM не создал поле: проверьте подключение и попробуйте ещё раз.",
    en="amoCRM did not create the field: check the connection and try again.",
)
BAD_MAPPING_FIELD = Text(
    ru="Поле #{field} не подходит для роли «{role}».", en="Field #{field} cannot play the role “{role}”."
)
UNMAPPED_WARNING = Text(
    ru="Действующие правила читают роли, которым не сопоставлено поле аккаунта: {roles}. Пока так, эти "
    "условия всегда «неизвестно» — сопоставьте поля и согласуйте изменение.",
    en="The running rules read roles no field of the account is mapped to: {roles}. Until they are mapped, "
    "those conditions are always “unknown” — map the fields and sign the change off.",
)
ORIGIN_NAMES = {
    "code": Text(ru="найдено по коду", en="found by code"),
    "name": Text(ru="найдено по названию", en="found by name"),
    "similar": Text(ru="похожее название — проверьте", en="similar name — please check"),
    "version": Text(ru="действует", en="in effect"),
}
FORM_LINK = Text(ru="Форма частых изменений", en="Form for common changes")
FORM_TITLE = Text(ru="Частые изменения правил", en="Common rule changes")
FORM_INTRO = Text(
    ru="Пороги, минимум BANT, норма целевых, метки каналов и экспериментальные каналы — без YAML. Изменения записываются в тот же файл правил: вы увидите "
    "разницу в YAML и превью на сделках, затем предложите версию на согласование маркетингу и продажам.",
    en="Thresholds, BANT's minimum, the qualified norm, channels' UTM values and experimental flags — without YAML. The changes go into the same rule file: "
    "you see the YAML diff and the preview on your leads, then propose the version for marketing and sales.",
)
FORM_PARAMS = Text(ru="Пороги (params)", en="Thresholds (params)")
FORM_MIN_MET = Text(
    ru="Целевой: выполнено критериев BANT не меньше", en="Qualified: BANT criteria met at least"
)
FORM_NORM = Text(ru="Норма целевых в канале, %", en="Norm of qualified leads per channel, %")
FORM_PREVIEW = Text(ru="Показать разницу и превью", en="Show the diff and the preview")
FORM_CHANNELS = Text(ru="Каналы", en="Channels")
FORM_CHANNELS_HINT = Text(
    ru="Значения через запятую, как они приходят в метках UTM. Сложные условия (теги, «любое из») меняются в YAML.",
    en="Values separated by commas, as they arrive in the UTM tags. Complex conditions (tags, any-of) are changed "
    "in the YAML.",
)
FORM_EXPERIMENTAL = Text(ru="экспериментальный", en="experimental")
FORM_ROLES = Text(ru="Поля сделки для ролей", en="Lead fields for the roles")
FORM_ROLES_HINT = Text(
    ru="Какое поле аккаунта играет каждую роль (заполненность — по сохранённым лидам). Подробнее и создать "
    "недостающее поле — на странице сопоставления полей.",
    en="Which of the account's fields plays each role (fill rates over the stored leads). Details, and creating a "
    "missing field, on the field mapping page.",
)
FORM_MAPPING_LINE = Text(
    ru="~ поле для роли «{role}»: {old} → {new}", en="~ field for the role “{role}”: {old} → {new}"
)
FORM_ROLE_BY_CODE = Text(ru="— (искать по коду)", en="— (look up by code)")
FORM_DIFF = Text(ru="Что меняется в файле правил", en="What changes in the rule file")

# --- hypotheses of the meeting (/reports/weekly) ------------------------------------------------------------
NEW_HYPOTHESIS = Text(ru="Новая гипотеза", en="A new hypothesis")
HYPOTHESIS_TEXT = Text(ru="Гипотеза", en="Hypothesis")
HYPOTHESIS_OWNER = Text(ru="Владелец", en="Owner")
HYPOTHESIS_METRIC = Text(ru="Метрика", en="Metric")
HYPOTHESIS_DIRECTION = Text(ru="Ожидаем", en="Expected")
HYPOTHESIS_UP = Text(ru="рост", en="a rise")
HYPOTHESIS_DOWN = Text(ru="снижение", en="a fall")
HYPOTHESIS_SEGMENT = Text(ru="Сегмент", en="Segment")
HYPOTHESIS_ALL = Text(ru="все каналы", en="all channels")
HYPOTHESIS_START = Text(ru="Старт", en="Start")
ADD_HYPOTHESIS = Text(ru="Записать гипотезу", en="Record the hypothesis")
CLOSE_HYPOTHESIS = Text(ru="Закрыть гипотезу", en="Close a hypothesis")
CLOSE_NOTE = Text(ru="Итог", en="Note")
CLOSE = Text(ru="Закрыть", en="Close")
CLOSED_HYPOTHESES = Text(ru="Закрытые гипотезы", en="Closed hypotheses")
CLOSED_ON = Text(ru="Закрыта", en="Closed")
HYPOTHESIS_ADDED = Text(ru="Гипотеза записана.", en="The hypothesis was recorded.")
HYPOTHESIS_INVALID = Text(
    ru="Гипотеза не записана: нужны текст, владелец из списка, метрика, канал правил и дата старта.",
    en="Not recorded: a text, an owner from the list, a metric, a rule channel and a start date are needed.",
)
HYPOTHESIS_CLOSED = Text(ru="Гипотеза закрыта.", en="The hypothesis was closed.")
