package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/views"
)

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.00 kB", 1536: "1.54 kB", 760_000_000: "760 MB",
		1_055_000_000: "1.06 GB", 12_345_678_901: "12.3 GB", 999_999: "1.00 MB", 999_499: "999 kB",
		-2048: "-2.05 kB", 3_000_000_000_000_000_000: "3.00 EB",
	} {
		require.Equal(t, want, views.FormatBytes(n), "%d", n)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		350 * time.Millisecond:                                 "350 ms",
		6300 * time.Millisecond:                                "6.3 s",
		14400 * time.Millisecond:                               "14 s",
		3*time.Minute + 4*time.Second:                          "3 min 4 s",
		3 * time.Minute:                                        "3 min",
		2*time.Hour + 5*time.Minute + 10*time.Second:           "2 h 5 min",
		3*24*time.Hour + 4*time.Hour + 20*time.Minute:          "3 d 4 h",
		59*time.Minute + 59*time.Second + 600*time.Millisecond: "1 h", // rounded before the unit is chosen
		23*time.Hour + 59*time.Minute + 40*time.Second:         "1 d",
	} {
		require.Equal(t, want, views.FormatDuration(d), "%v", d)
	}
}

func TestFormatAge(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		10 * time.Second: "just now", 5 * time.Minute: "5 min ago", 3 * time.Hour: "3 h ago",
		47 * time.Hour: "47 h ago", 80 * time.Hour: "3 d ago", -5 * time.Minute: "in 5 min",
		-30 * time.Second: "in less than a minute",
	} {
		require.Equal(t, want, views.FormatAge(now, now.Add(-d)), "%v", d)
	}
}

func TestFormatTimeAndSmallHelpers(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	require.NoError(t, err)
	summer := time.Date(2026, 7, 1, 2, 0, 0, 0, time.UTC)
	require.Equal(t, "2026-07-01 03:00 BST", views.FormatTime(summer, london))
	require.Equal(t, "2026-07-01 02:00 UTC", views.FormatTime(summer, nil))
	require.Equal(t, "1,234,567", views.FormatCount(1234567))
	require.Equal(t, "-1,000", views.FormatCount(-1000))
	require.Equal(t, "12", views.FormatCount(12))
	require.Equal(t, "63.0 MB/s", views.FormatThroughput(630e6, 10))
	require.Equal(t, "–", views.FormatThroughput(1, 0))
	sha := strings.Repeat("ab", 32)
	require.Equal(t, "abababababab…", views.ShortSHA(sha))
}

func TestScheduleWords(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"":             "manual runs only",
		"0 3 * * *":    "every day at 03:00",
		"30 2 * * 1-5": "every Monday to Friday at 02:30",
		"0 4 * * 0":    "every Sunday at 04:00",
		"0 4 * * 6,0":  "every Saturday and Sunday at 04:00",
		"0 4 * * 1,3":  "every Monday and Wednesday at 04:00",
		"15 1 1 * *":   "on the 1st of every month at 01:15",
		"0 0 1,15 * *": "on the 1st and 15th of every month at 00:00",
		"0 6,18 * * *": "every day at 06:00 and 18:00",
		"*/15 * * * *": "every 15 minutes",
		"*/15 * * * 1": "every 15 minutes on Monday",
		"*/30 * 1 * *": "every 30 minutes on the 1st of every month",
		"0 * * * *":    "every hour, on the hour",
		"5 * * * *":    "every hour at :05",
		"0 */6 * * *":  "every 6 hours at :00",
		"0 3 * 1,7 *":  "every day in January and July at 03:00",
		"@daily":       "every day at 00:00",
		"@hourly":      "every hour, on the hour",
		"@weekly":      "every Sunday at 00:00",
		// Beyond words: the page shows the expression.
		"0 3 1 * 1":      "",
		"0 3-23/2 * * *": "",
		"0 3 * * MON":    "",
		"0 3 * *":        "",
	} {
		require.Equal(t, want, views.ScheduleWords(spec), "%q", spec)
	}
}

func TestRedactURLNeverKeepsTheSecret(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"postgres://app:hunter2@db.internal:5432/shop?sslmode=require":   "postgres://app:" + views.Masked + "@db.internal:5432/shop?sslmode=require",
		"postgres://app@db/shop?password=hunter2&application_name=x":     "postgres://app@db/shop?password=" + views.Masked + "&application_name=x",
		"postgres://db/shop?sslpassword=hunter2":                         "postgres://db/shop?sslpassword=" + views.Masked,
		"host=db user=app password=hunter2 dbname=shop":                  "host=db user=app password=" + views.Masked + " dbname=shop",
		"host=db password='hunter2 with space' dbname=shop":              "host=db password=" + views.Masked + " dbname=shop",
		"postgres://app:hunter2@db/shop#hunter2":                         "postgres://app:" + views.Masked + "@db/shop",
		"https://s3.example.com/?X-Amz-Signature=hunter2&X-Amz-Date=now": "https://s3.example.com/?X-Amz-Signature=" + views.Masked + "&X-Amz-Date=now",
		"not a url hunter2": views.Masked,
		"":                  "",
	} {
		got := views.RedactURL(raw).String()
		require.Equal(t, want, got, "%q", raw)
		require.NotContains(t, got, "hunter2")
	}
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/T000/B000/hunter2": "https://hooks.slack.com/" + views.Masked,
		"https://hc-ping.com/hunter2":                        "https://hc-ping.com/" + views.Masked,
		"https://ops.example.com":                            "https://ops.example.com",
		"https://ops.example.com/?token=hunter2":             "https://ops.example.com/" + views.Masked,
		"https://user:hunter2@ops.example.com/":              "https://ops.example.com",
		"hunter2":                                            views.Masked,
	} {
		got := views.RedactToHost(raw).String()
		require.Equal(t, want, got, "%q", raw)
		require.NotContains(t, got, "hunter2")
	}
}
