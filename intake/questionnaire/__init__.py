"""The screening questionnaire: questionnaire files as data, and the assessment.

Pure Python (no Flask): load and check a questionnaire, decide what is shown,
clean answers, and turn recorded indicators into an assessment.
"""

from .assessment import DIMENSIONS, OUTCOMES, Catalogue, assess, load_catalogue
from .conditions import QuestionnaireError
from .model import (
    Choice,
    Question,
    Questionnaire,
    Section,
    available_questionnaires,
    load_questionnaire,
)

__all__ = [
    "DIMENSIONS",
    "OUTCOMES",
    "Catalogue",
    "Choice",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "Section",
    "assess",
    "available_questionnaires",
    "load_catalogue",
    "load_questionnaire",
]
