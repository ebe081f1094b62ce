"""The standard post-contact survey and the council's service catalogue, as data to load."""

from __future__ import annotations

from surveys.definitions import CONTACT_REQUEST, Choice, CommentPrompt, Question, QuestionKind, SurveyDefinition

SATISFACTION_CHOICES = tuple(
    Choice(value=str(value), label={"en": label})
    for value, label in [
        (5, "Very satisfied"),
        (4, "Satisfied"),
        (3, "Neither satisfied nor dissatisfied"),
        (2, "Dissatisfied"),
        (1, "Very dissatisfied"),
    ]
)

# The channels the standard survey may be asked on: all but the kiosk, which asks one tap question only.
POST_CONTACT_CHANNELS = ("email", "sms", "ivr", "chat", "paper", "web_link")

POST_CONTACT_SURVEY = SurveyDefinition(
    title={"en": "Tell us about your recent contact"},
    intro={"en": "It takes about a minute. Your answers help us improve our services."},
    questions=(
        Question(
            id="satisfaction",
            kind=QuestionKind.csat,
            text={"en": "Overall, how satisfied were you with the service you received?"},
            error_message={"en": "Select how satisfied you were with the service"},
            required=True,
            choices=SATISFACTION_CHOICES,
        ),
        Question(
            id="resolved",
            kind=QuestionKind.yes_partly_no,
            text={"en": "Was your issue resolved?"},
            error_message={"en": "Select whether your issue was resolved"},
            required=True,
            resolution=True,
        ),
        Question(
            id="improve",
            kind=QuestionKind.free_text,
            text={"en": "What could we do better?"},
            hint={"en": "Do not include personal details such as your name, address or phone number."},
            max_length=1200,
            comment_prompt=CommentPrompt.improve,
        ),
        Question(
            id="praise",
            kind=QuestionKind.free_text,
            text={"en": "What went well?"},
            max_length=1200,
            comment_prompt=CommentPrompt.praise,
        ),
        Question(
            id=CONTACT_REQUEST,
            kind=QuestionKind.single_choice,
            text={"en": "Would you like someone from the council to contact you about this?"},
            choices=(Choice(value="yes", label={"en": "Yes"}), Choice(value="no", label={"en": "No"})),
        ),
    ),
)

# (group slug, group name, [(service slug, service name, excluded reason or None)])
SERVICE_CATALOGUE: list[tuple[str, str, list[tuple[str, str, str | None]]]] = [
    (
        "home-and-money",
        "Home and Money",
        [
            ("council-tax", "Council Tax", None),
            ("benefits", "Housing Benefit and Council Tax Support", None),
            ("housing-repairs", "Housing repairs", None),
            ("homelessness", "Homelessness and housing advice", None),
        ],
    ),
    (
        "health-and-wellbeing",
        "Health and Wellbeing",
        [
            ("adult-social-care", "Adult social care", None),
            ("public-health", "Public health", None),
            ("adult-safeguarding", "Adult safeguarding", "Safeguarding contacts are never surveyed."),
        ],
    ),
    (
        "city-and-neighbourhood",
        "City and Neighbourhood",
        [
            ("waste-and-recycling", "Bins, waste and recycling", None),
            ("parking", "Parking and permits", None),
            ("street-care", "Roads, pavements and street cleaning", None),
            ("planning", "Planning and building control", None),
        ],
    ),
    (
        "life-family-and-learning",
        "Life, Family and Learning",
        [
            ("school-admissions", "School admissions", None),
            ("libraries", "Libraries", None),
            ("registrars", "Births, marriages and civil partnerships", None),
            ("bereavement", "Bereavement services", "Bereavement contacts are never surveyed."),
            ("childrens-safeguarding", "Children's safeguarding", "Safeguarding contacts are never surveyed."),
        ],
    ),
]
