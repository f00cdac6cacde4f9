"""Well-known toolkits Taskyard has no connector for: searchable, never installable.

The app-integrations API lists the curated toolkits (Taskyard's connectors) and,
with ``?search=``, a larger catalog. These entries make that search answer the
way a client expects (``search=salesforce`` finds Salesforce) while saying
honestly that this deployment cannot install it: ``curated: false``,
``installable: false``. A toolkit moves from here to ``connectors/`` when a
connector is written for it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class DirectoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    toolkit: str
    name: str
    description: str
    categories: tuple[str, ...]
    auth_type: Literal["oauth2", "credentials"] = "oauth2"


def _entry(
    toolkit: str,
    name: str,
    description: str,
    *categories: str,
    auth: Literal["oauth2", "credentials"] = "oauth2",
) -> DirectoryEntry:
    return DirectoryEntry(
        toolkit=toolkit, name=name, description=description, categories=categories, auth_type=auth
    )


DIRECTORY: tuple[DirectoryEntry, ...] = (
    _entry("airtable", "Airtable", "Records in Airtable bases", "database", "productivity"),
    _entry("asana", "Asana", "Tasks and projects in Asana", "project management", "productivity"),
    _entry("calendly", "Calendly", "Scheduled meetings and event types", "calendar", "scheduling"),
    _entry("clickup", "ClickUp", "Tasks, lists and docs in ClickUp", "project management"),
    _entry("dropbox", "Dropbox", "Files and folders in Dropbox", "file storage"),
    _entry("figma", "Figma", "Files, comments and components in Figma", "design"),
    _entry("github", "GitHub", "Issues, pull requests and repositories", "developer tools"),
    _entry("gitlab", "GitLab", "Issues, merge requests and projects", "developer tools"),
    _entry("google-docs", "Google Docs", "Create and edit documents", "documents", "google"),
    _entry("google-drive", "Google Drive", "Files and folders in Drive", "file storage", "google"),
    _entry(
        "google-sheets", "Google Sheets", "Read and write spreadsheets", "spreadsheets", "google"
    ),
    _entry("hubspot", "HubSpot", "Contacts, companies and deals in HubSpot", "crm", "sales"),
    _entry("intercom", "Intercom", "Conversations and contacts", "customer support"),
    _entry("jira", "Jira", "Issues and projects in Jira", "project management", "developer tools"),
    _entry("linear", "Linear", "Issues and projects in Linear", "project management"),
    _entry(
        "mailchimp",
        "Mailchimp",
        "Audiences and email campaigns",
        "email",
        "marketing",
        auth="credentials",
    ),
    _entry(
        "microsoft-teams", "Microsoft Teams", "Messages in Teams channels", "communication", "chat"
    ),
    _entry("monday", "monday.com", "Boards and items on monday.com", "project management"),
    _entry("notion", "Notion", "Pages and databases in Notion", "documents", "productivity"),
    _entry("outlook", "Outlook", "Mail and calendar of a Microsoft account", "email", "calendar"),
    _entry("pipedrive", "Pipedrive", "Deals, persons and organizations", "crm", "sales"),
    _entry("quickbooks", "QuickBooks", "Customers, invoices and payments", "accounting", "finance"),
    _entry(
        "salesforce", "Salesforce", "Leads, contacts, accounts and opportunities", "crm", "sales"
    ),
    _entry("sendgrid", "SendGrid", "Transactional email", "email", auth="credentials"),
    _entry("shopify", "Shopify", "Orders, products and customers of a store", "e-commerce"),
    _entry("trello", "Trello", "Boards, lists and cards in Trello", "project management"),
    _entry(
        "twilio", "Twilio", "SMS and voice messages", "communication", "sms", auth="credentials"
    ),
    _entry("typeform", "Typeform", "Forms and their responses", "forms", "surveys"),
    _entry("xero", "Xero", "Contacts, bills and bank transactions", "accounting", "finance"),
    _entry("zendesk", "Zendesk", "Tickets and users in Zendesk", "customer support"),
    _entry("zoom", "Zoom", "Meetings and recordings", "video conferencing", "communication"),
)
