{{- define "ingress-controller.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "ingress-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ingress-controller.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "ingress-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The Secret the certificate Job writes and the controller mounts. */}}
{{- define "ingress-controller.admissionSecret" -}}
{{ include "ingress-controller.fullname" . }}-admission
{{- end -}}

{{/* Metadata of a hook object of the certificate Jobs: made before them, removed after. */}}
{{- define "ingress-controller.hookMeta" -}}
namespace: {{ .Release.Namespace }}
annotations:
  helm.sh/hook: pre-install,pre-upgrade,post-install,post-upgrade
  helm.sh/hook-weight: "-10"
  helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
labels:
  {{- include "ingress-controller.labels" . | nindent 2 }}
  app.kubernetes.io/component: admission-webhook
{{- end -}}
