"""The standard post-contact survey and the council's service catalogue, as data to load."""

from __future__ import annotations

from typing import Any

SATISFACTION_OPTIONS = [
    {"value": 5, "label": "Very satisfied"},
    {"value": 4, "label": "Satisfied"},
    {"value": 3, "label": "Neither satisfied nor dissatisfied"},
    {"value": 2, "label": "Dissatisfied"},
    {"value": 1, "label": "Very dissatisfied"},
]

POST_CONTACT_SURVEY: dict[str, Any] = {
    "title": "Tell us about your recent contact",
    "intro": "It takes about a minute. Your answers help us improve our services.",
    "questions": [
        {
            "key": "satisfaction",
            "kind": "scale",
            "text": "Overall, how satisfied were you with the service you received?",
            "required": True,
            "options": SATISFACTION_OPTIONS,
        },
        {
            "key": "resolved",
            "kind": "choice",
            "text": "Was your issue resolved?",
            "required": True,
            "options": [
                {"value": "yes", "label": "Yes"},
                {"value": "partly", "label": "Partly"},
                {"value": "no", "label": "No"},
            ],
        },
        {
            "key": "improve",
            "kind": "text",
            "text": "What could we do better?",
            "hint": "Do not include personal details such as your name, address or phone number.",
            "required": False,
            "max_length": 1200,
            "sentiment_context": "improve",
        },
        {
            "key": "praise",
            "kind": "text",
            "text": "What went well?",
            "required": False,
            "max_length": 1200,
            "sentiment_context": "praise",
        },
    ],
}

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
