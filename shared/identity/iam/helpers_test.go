package iam_test

import "cloud.google.com/go/iam/admin/apiv1/adminpb"

func createReq(id, project, display string) *adminpb.CreateServiceAccountRequest {
	return &adminpb.CreateServiceAccountRequest{Name: "projects/" + project, AccountId: id,
		ServiceAccount: &adminpb.ServiceAccount{DisplayName: display}}
}
