"""Identifiers that travel through Slack: callback IDs, action IDs, block IDs.

The message shortcuts' callback IDs must match `manifest.yml`.
"""

COMMAND = "/jira"

# Shortcuts
SHORTCUT_CREATE_ISSUE = "create_jira_issue"
SHORTCUT_ADD_TO_ISSUE = "add_to_jira_issue"

# Modals (callback IDs)
VIEW_ADMIN_INSTALL = "jira_admin_install"
VIEW_CONNECT = "jira_connect"
VIEW_CREATE_ISSUE = "jira_create_issue"
VIEW_ADD_TO_ISSUE = "jira_add_to_issue"
VIEW_INFO = "jira_info"

# Actions
ACTION_CONNECT_LINK = "jira_connect_link"  # URL button to the authorization page
ACTION_CONNECT_START = "jira_connect_start"  # App Home: opens a modal with a fresh authorization link
ACTION_DISCONNECT = "jira_disconnect"
ACTION_UNINSTALL = "jira_admin_uninstall"
ACTION_DEFAULT_PROJECT = "jira_admin_default_project"
ACTION_INSTALL_KIND = "jira_install_kind"
ACTION_OPEN_IN_JIRA = "jira_open_in_jira"

# Blocks and inputs of the admin install modal
BLOCK_INSTALL_KIND = "install_kind"
BLOCK_INSTALL_URL = "install_url"
BLOCK_INSTALL_CLIENT_ID = "install_client_id"
BLOCK_INSTALL_CLIENT_SECRET = "install_client_secret"

# Issue cards (bot/slack/views/issue_card.py): one set of action IDs wherever a card appears. Buttons
# carry the issue key as their value; the Transition select finds it in its block's ID.
ACTION_CARD_ASSIGN = "jira_card_assign"
ACTION_CARD_TRANSITION = "jira_card_transition"
ACTION_CARD_COMMENT = "jira_card_comment"
ACTION_CARD_WATCH = "jira_card_watch"
ACTION_CARD_SHARE = "jira_card_share"
BLOCK_CARD_ACTIONS = "jira_card_actions"
VIEW_CARD_COMMENT = "jira_card_comment_modal"
VIEW_CARD_TRANSITION = "jira_card_transition_modal"
BLOCK_CARD_COMMENT = "jira_card_comment_text"
ACTION_CARD_COMMENT_TEXT = "jira_card_comment_input"
ACTION_CARD_OPEN = "jira_card_open"  # URL buttons in card notices and modals

# App Home admin section: full unfurls of issues with a security level
ACTION_UNFURL_RESTRICTED = "jira_admin_unfurl_restricted"

# Channel subscriptions (bot/slack/views/subscriptions.py)
VIEW_SUBSCRIBE = "jira_subscribe"
ACTION_SUB_PROJECT = "jira_sub_project"
ACTION_SUB_EVENTS = "jira_sub_events"
ACTION_SUB_JQL = "jira_sub_jql"
ACTION_SUB_REMOVE = "jira_sub_remove"
BLOCK_SUB_PROJECT = "project"
BLOCK_SUB_EVENTS = "events"
BLOCK_SUB_JQL = "jql"

# Personal notifications (bot/slack/views/personal.py): the App Home switches
ACTION_PERSONAL_KINDS = "jira_personal_kinds"
BLOCK_PERSONAL_KINDS = "jira_personal_kinds"
