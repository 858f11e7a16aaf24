package podsub

import (
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RegisterConversions adds to scheme the conversions from a request's query
// parameters to the options of pods/log, exec, attach and portforward, so
// that the API server can decode them (Kubernetes generates these; the
// k8s.io/api types do not carry them).
func RegisterConversions(scheme *runtime.Scheme) error {
	for _, c := range []struct {
		out any
		fn  conversion.ConversionFunc
	}{
		{(*corev1.PodLogOptions)(nil), func(a, b any, s conversion.Scope) error {
			return convertLogOptions(a.(*url.Values), b.(*corev1.PodLogOptions))
		}},
		{(*corev1.PodExecOptions)(nil), func(a, b any, s conversion.Scope) error {
			return convertExecOptions(a.(*url.Values), b.(*corev1.PodExecOptions))
		}},
		{(*corev1.PodAttachOptions)(nil), func(a, b any, s conversion.Scope) error {
			return convertAttachOptions(a.(*url.Values), b.(*corev1.PodAttachOptions))
		}},
		{(*corev1.PodPortForwardOptions)(nil), func(a, b any, s conversion.Scope) error {
			return convertPortForwardOptions(a.(*url.Values), b.(*corev1.PodPortForwardOptions))
		}},
	} {
		if err := scheme.AddConversionFunc((*url.Values)(nil), c.out, c.fn); err != nil {
			return fmt.Errorf("pod subresource options conversion: %w", err)
		}
	}
	return nil
}

// query reads typed values out of url.Values with the same rules as
// Kubernetes' generated conversions: a parameter that is absent leaves the
// field as it is; a boolean is false only for "0" or "false".
type query struct {
	values url.Values
	err    error
}

func (q *query) lookup(key string) ([]string, bool) {
	v, ok := q.values[key]
	return v, ok && len(v) > 0
}

func (q *query) string(key string, out *string) {
	if v, ok := q.lookup(key); ok && q.err == nil {
		q.err = runtime.Convert_Slice_string_To_string(&v, out, nil)
	}
}

func (q *query) bool(key string, out *bool) {
	if v, ok := q.lookup(key); ok && q.err == nil {
		q.err = runtime.Convert_Slice_string_To_bool(&v, out, nil)
	}
}

func (q *query) int64(key string, out **int64) {
	if v, ok := q.lookup(key); ok && q.err == nil {
		if err := runtime.Convert_Slice_string_To_Pointer_int64(&v, out, nil); err != nil {
			q.err = fmt.Errorf("%s: %w", key, err)
		}
	}
}

func (q *query) time(key string, out **metav1.Time) {
	if v, ok := q.lookup(key); ok && q.err == nil {
		if err := metav1.Convert_Slice_string_To_Pointer_v1_Time(&v, out, nil); err != nil {
			q.err = fmt.Errorf("%s: %w", key, err)
		}
	}
}

func convertLogOptions(in *url.Values, out *corev1.PodLogOptions) error {
	q := &query{values: *in}
	q.string("container", &out.Container)
	q.bool("follow", &out.Follow)
	q.bool("previous", &out.Previous)
	q.int64("sinceSeconds", &out.SinceSeconds)
	q.time("sinceTime", &out.SinceTime)
	q.bool("timestamps", &out.Timestamps)
	q.int64("tailLines", &out.TailLines)
	q.int64("limitBytes", &out.LimitBytes)
	q.bool("insecureSkipTLSVerifyBackend", &out.InsecureSkipTLSVerifyBackend)
	if v, ok := q.lookup("stream"); ok {
		s := v[0]
		out.Stream = &s
	}
	return q.err
}

func convertExecOptions(in *url.Values, out *corev1.PodExecOptions) error {
	q := &query{values: *in}
	q.bool("stdin", &out.Stdin)
	q.bool("stdout", &out.Stdout)
	q.bool("stderr", &out.Stderr)
	q.bool("tty", &out.TTY)
	q.string("container", &out.Container)
	if v, ok := q.lookup("command"); ok {
		out.Command = append([]string(nil), v...)
	}
	return q.err
}

func convertAttachOptions(in *url.Values, out *corev1.PodAttachOptions) error {
	q := &query{values: *in}
	q.bool("stdin", &out.Stdin)
	q.bool("stdout", &out.Stdout)
	q.bool("stderr", &out.Stderr)
	q.bool("tty", &out.TTY)
	q.string("container", &out.Container)
	return q.err
}

func convertPortForwardOptions(in *url.Values, out *corev1.PodPortForwardOptions) error {
	v, ok := (*in)["ports"]
	if !ok || len(v) == 0 {
		return nil
	}
	out.Ports = nil
	return metav1.Convert_Slice_string_To_Slice_int32(&v, &out.Ports, nil)
}

// validateLogOptions checks the options of pods/log as Kubernetes does.
func validateLogOptions(opts *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, "must be greater than or equal to 0"))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	if opts.Stream != nil {
		switch *opts.Stream {
		case corev1.LogStreamStdout, corev1.LogStreamStderr, corev1.LogStreamAll:
			if *opts.Stream != corev1.LogStreamAll && opts.TailLines != nil {
				errs = append(errs, field.Forbidden(field.NewPath(""), "`tailLines` and specific `stream` are mutually exclusive for now"))
			}
		default:
			errs = append(errs, field.NotSupported(field.NewPath("stream"), *opts.Stream,
				[]string{corev1.LogStreamStdout, corev1.LogStreamStderr, corev1.LogStreamAll}))
		}
	}
	return errs
}
