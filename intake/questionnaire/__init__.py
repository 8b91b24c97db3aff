"""The screening questionnaire: questionnaire files as data, and the assessment.

Pure Python (no Flask): load and check a questionnaire, decide what is shown,
clean answers, and turn recorded indicators into an assessment.
"""

from .assessment import OUTCOMES, assess
from .catalogue import DIMENSIONS, Catalogue, load_catalogue
from .conditions import QuestionnaireError
from .loader import available_questionnaires, load_questionnaire
from .model import Choice, Question, Questionnaire, Section

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
