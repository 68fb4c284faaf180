package alerting_test

import "github.com/queueless/queueless/alerts"

func alertsFilterAll() alerts.Filter { return alerts.Filter{Limit: 500} }
