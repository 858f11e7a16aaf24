// Package cronjob is the CronJob controller: at each time of a CronJob's
// schedule (standard cron syntax and the @hourly-style macros, in
// spec.timeZone or UTC) it creates a Job named <cronjob>-<minutes since the
// epoch>, honouring concurrencyPolicy, startingDeadlineSeconds and suspend;
// it keeps status.active, lastScheduleTime and lastSuccessfulTime, and
// deletes finished Jobs beyond the history limits. A CronJob is looked at
// again exactly when its next schedule time comes, not by polling.
package cronjob
