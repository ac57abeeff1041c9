"""The predefined security questions, in the spirit of Entra's list of 35.

A registration stores the English text, the question's identity whatever language the page was
in; pages show each question in the reader's language.
"""

from django.utils.translation import gettext_noop as _

PREDEFINED_QUESTIONS = (
    _("In what city did you meet your first spouse or partner?"),
    _("In what city did your parents meet?"),
    _("In what city does your nearest sibling live?"),
    _("In what city was your father born?"),
    _("In what city was your first job?"),
    _("In what city was your mother born?"),
    _("What city were you in on New Year's 2000?"),
    _("What is the last name of your favourite teacher in high school?"),
    _("What is the name of a college you applied to but didn't attend?"),
    _("What is the name of the place in which you held your first wedding reception?"),
    _("What is your father's middle name?"),
    _("What is your favourite food?"),
    _("What is your maternal grandmother's first and last name?"),
    _("What is your mother's middle name?"),
    _("What is your oldest sibling's birthday month and year?"),
    _("What is your oldest sibling's middle name?"),
    _("What is your paternal grandfather's first and last name?"),
    _("What is your youngest sibling's middle name?"),
    _("What school did you attend for sixth grade?"),
    _("What was the first and last name of your childhood best friend?"),
    _("What was the first and last name of your first significant other?"),
    _("What was the last name of your favourite grade school teacher?"),
    _("What was the make and model of your first car or motorcycle?"),
    _("What was the name of the first school you attended?"),
    _("What was the name of the hospital in which you were born?"),
    _("What was the name of the street of your first childhood home?"),
    _("What was the name of your childhood hero?"),
    _("What was the name of your favourite stuffed animal?"),
    _("What was the name of your first pet?"),
    _("What was your childhood nickname?"),
    _("What was your favourite sport in high school?"),
    _("What was your first job?"),
    _("What were the last four digits of your childhood telephone number?"),
    _("When you were young, what did you want to be when you grew up?"),
    _("Who is the most famous person you have ever met?"),
)
