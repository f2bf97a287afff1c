package workflows

import "go.temporal.io/sdk/workflow"

// Registry is what workflows are registered on: a worker, a replayer or the
// SDK's test environment.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Register registers every workflow under its constant name.
func Register(r Registry) {
	r.RegisterWorkflowWithOptions(IncidentWorkflow, workflow.RegisterOptions{Name: IncidentWorkflowName})
	r.RegisterWorkflowWithOptions(RegimeWorkflow, workflow.RegisterOptions{Name: RegimeWorkflowName})
	r.RegisterWorkflowWithOptions(PeopleWorkflow, workflow.RegisterOptions{Name: PeopleWorkflowName})
	r.RegisterWorkflowWithOptions(DeliveryPartitionWorkflow, workflow.RegisterOptions{Name: DeliveryPartitionWorkflowName})
	r.RegisterWorkflowWithOptions(MonitoringWorkflow, workflow.RegisterOptions{Name: MonitoringWorkflowName})
	r.RegisterWorkflowWithOptions(CredentialsWorkflow, workflow.RegisterOptions{Name: CredentialsWorkflowName})
	r.RegisterWorkflowWithOptions(ResetPartitionWorkflow, workflow.RegisterOptions{Name: ResetPartitionWorkflowName})
}
