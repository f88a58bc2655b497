{{- define "sendpipe.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sendpipe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sendpipe.labels" -}}
app.kubernetes.io/name: {{ include "sendpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sendpipe.selector" -}}
app.kubernetes.io/name: {{ include "sendpipe.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sendpipe.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "sendpipe.sealingKeySecret" -}}
{{- .Values.sealingKey.existingSecret | default (printf "%s-sealing-key" (include "sendpipe.fullname" .)) -}}
{{- end -}}

{{/* Hardened container settings shared by every pod. */}}
{{- define "sendpipe.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Kafka connection settings as environment variables (read by sendpipe.settings). */}}
{{- define "sendpipe.kafkaEnv" -}}
- name: SENDPIPE_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: SENDPIPE_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- with .Values.kafka.saslMechanism }}
- name: SENDPIPE_KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.saslSecret }}
- name: SENDPIPE_KAFKA_SASL_USERNAME
  valueFrom: {secretKeyRef: {name: {{ . }}, key: username}}
- name: SENDPIPE_KAFKA_SASL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ . }}, key: password}}
{{- end }}
{{- if .Values.kafka.tlsSecret }}
- name: SENDPIPE_KAFKA_SSL_CAFILE
  value: /etc/sendpipe/kafka-tls/ca.crt
{{- end }}
- name: SENDPIPE_TOPICS_PARTITIONS
  value: {{ .Values.kafka.topics.partitions | quote }}
- name: SENDPIPE_TOPICS_REPLICATION_FACTOR
  value: {{ .Values.kafka.topics.replicationFactor | quote }}
{{- end -}}
