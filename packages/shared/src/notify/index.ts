// Notification channels shared by the store (which delivers) and the api (which configures
// channels and sends test messages): configuration schemas, the message content, and senders.
export {
  CHANNEL_TYPES,
  type ChannelSecrets,
  type ChannelSettings,
  type ChannelTarget,
  type ChannelType,
  channelSecretsSchemas,
  channelSettingsSchemas,
  issuePaths,
  parseChannelTarget,
} from "./channel-config.ts";
export { httpRequestFor, webhookSignature } from "./channel-formats.ts";
export {
  describeNetworkError,
  type EmailTransport,
  type SendOptions,
  type SendResult,
  sendNotification,
  truncateAnswer,
} from "./channel-sender.ts";
export { smtpTransport } from "./email-transport.ts";
export {
  type AlertNotification,
  formatDuration,
  type Notification,
  renderText,
  type Severity,
  severityOf,
  type TestNotification,
} from "./notification.ts";
export { type QuietHours, quietHoursSchema, quietUntil } from "./quiet-hours.ts";
